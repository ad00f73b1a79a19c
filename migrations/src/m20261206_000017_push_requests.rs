//! Push approvals: a login waiting for its end user to approve it in the portal, with the
//! number the login prompt shows. Written by the login side (`domain::logins`), decided by the
//! approval side (`domain::push`); the table is the only thing they share, so either replica
//! can decide a request another replica's login waits on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PushRequests::Table)
                .col(pk_uuid(PushRequests::Id))
                .col(uuid(PushRequests::TenantId))
                .col(uuid(PushRequests::UserId))
                .col(uuid(PushRequests::LoginId))
                // What the portal shows beside the request (copied: the audit row may go first).
                .col(string(PushRequests::ServerName))
                .col(string(PushRequests::Account))
                .col(string(PushRequests::SourceIp))
                // The number the login prompt shows and the person types in the portal.
                .col(integer(PushRequests::Number))
                .col(string_len(PushRequests::Status, 16))
                // Wrong numbers typed for it in the portal.
                .col(integer(PushRequests::WrongNumbers).default(0))
                .col(timestamp_with_time_zone(PushRequests::CreatedAt))
                .col(timestamp_with_time_zone(PushRequests::ExpiresAt))
                .col(timestamp_with_time_zone_null(PushRequests::DecidedAt))
                // The approval device whose signature decided it.
                .col(uuid_null(PushRequests::DeviceId))
                .foreign_key(
                    ForeignKey::create()
                        .from(PushRequests::Table, PushRequests::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The portal's pending list and the per-person rate limits.
        m.create_index(
            Index::create()
                .name("idx_push_requests_user")
                .table(PushRequests::Table)
                .col(PushRequests::UserId)
                .col(PushRequests::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_push_requests_login")
                .table(PushRequests::Table)
                .col(PushRequests::LoginId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PushRequests::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PushRequests {
    Table,
    Id,
    TenantId,
    UserId,
    LoginId,
    ServerName,
    Account,
    SourceIp,
    Number,
    Status,
    WrongNumbers,
    CreatedAt,
    ExpiresAt,
    DecidedAt,
    DeviceId,
}
