//! Web Push: the push subscriptions of end users' browsers and phones (endpoint and RFC 8291
//! keys), and one row per push request the notifier has taken, so that of several replicas
//! only the one that inserted it sends the notification.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PushSubscriptions::Table)
                .col(pk_uuid(PushSubscriptions::Id))
                .col(uuid(PushSubscriptions::TenantId))
                .col(uuid(PushSubscriptions::UserId))
                .col(string_len(PushSubscriptions::Endpoint, 1024))
                // The browser's P-256 key (65-byte uncompressed point) and 16-byte auth secret.
                .col(binary(PushSubscriptions::P256dh))
                .col(binary(PushSubscriptions::Auth))
                .col(timestamp_with_time_zone(PushSubscriptions::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PushSubscriptions::Table, PushSubscriptions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_push_subscriptions_user_endpoint")
                .table(PushSubscriptions::Table)
                .col(PushSubscriptions::UserId)
                .col(PushSubscriptions::Endpoint)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PushNotifications::Table)
                // The push request: its primary key is the claim (an insert succeeds once).
                .col(pk_uuid(PushNotifications::RequestId))
                .col(timestamp_with_time_zone(PushNotifications::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PushNotifications::Table, PushNotifications::RequestId)
                        .to(PushRequests::Table, PushRequests::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PushNotifications::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PushSubscriptions::Table).to_owned()).await
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
}

#[derive(DeriveIden)]
enum PushSubscriptions {
    Table,
    Id,
    TenantId,
    UserId,
    Endpoint,
    P256dh,
    Auth,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PushNotifications {
    Table,
    RequestId,
    CreatedAt,
}
