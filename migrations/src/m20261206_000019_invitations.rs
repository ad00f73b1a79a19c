//! Invitations: a tenant admin invites an end user by email or SMS; the link (its SHA-256 kept)
//! sets a password and a first factor. They replace the enrolment windows of migration 14,
//! whose table goes. Users get where their account stands: `activated_at` (NULL while only
//! invited; every user made before this had a password, so is active since their creation),
//! `locked_at`, and `last_sign_in_at`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds only one column per ALTER TABLE.
        for col in [Users::ActivatedAt, Users::LockedAt, Users::LastSignInAt] {
            m.alter_table(Table::alter().table(Users::Table).add_column(timestamp_with_time_zone_null(col)).to_owned())
                .await?;
        }
        m.exec_stmt(
            Query::update()
                .table(Users::Table)
                .value(Users::ActivatedAt, Expr::col(Users::CreatedAt))
                .and_where(Expr::col(Users::ActivatedAt).is_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Invitations::Table)
                .col(pk_uuid(Invitations::Id))
                .col(uuid(Invitations::TenantId))
                .col(uuid(Invitations::UserId))
                .col(string_len(Invitations::Channel, 16))
                .col(string(Invitations::Address))
                .col(string_uniq(Invitations::TokenHash))
                .col(string(Invitations::InvitedBy))
                .col(timestamp_with_time_zone(Invitations::CreatedAt))
                .col(timestamp_with_time_zone(Invitations::SentAt))
                .col(integer(Invitations::Sends).default(1))
                .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                .col(timestamp_with_time_zone_null(Invitations::PasswordSetAt))
                .col(timestamp_with_time_zone_null(Invitations::AcceptedAt))
                .col(timestamp_with_time_zone_null(Invitations::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Invitations::Table, Invitations::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_invitations_user")
                .table(Invitations::Table)
                .col(Invitations::UserId)
                .col(Invitations::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(EnrolmentWindows::Table).if_exists().to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EnrolmentWindows::Table)
                .col(pk_uuid(EnrolmentWindows::Id))
                .col(uuid(EnrolmentWindows::TenantId))
                .col(uuid(EnrolmentWindows::UserId))
                .col(string(EnrolmentWindows::OpenedBy))
                .col(timestamp_with_time_zone(EnrolmentWindows::OpenedAt))
                .col(timestamp_with_time_zone(EnrolmentWindows::ExpiresAt))
                .col(timestamp_with_time_zone_null(EnrolmentWindows::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(EnrolmentWindows::Table, EnrolmentWindows::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Invitations::Table).to_owned()).await?;
        for col in [Users::LastSignInAt, Users::LockedAt, Users::ActivatedAt] {
            m.alter_table(Table::alter().table(Users::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    CreatedAt,
    ActivatedAt,
    LockedAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    TenantId,
    UserId,
    Channel,
    Address,
    TokenHash,
    InvitedBy,
    CreatedAt,
    SentAt,
    Sends,
    ExpiresAt,
    PasswordSetAt,
    AcceptedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum EnrolmentWindows {
    Table,
    Id,
    TenantId,
    UserId,
    OpenedBy,
    OpenedAt,
    ExpiresAt,
    UsedAt,
}
