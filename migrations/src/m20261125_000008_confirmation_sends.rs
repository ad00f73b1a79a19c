//! Confirmation sends, kept apart from subscriptions and the outbox so that the limits on
//! confirmation messages per endpoint hold when a subscription is deleted and added again, or
//! delivered messages are purged. Secrets of queued messages (link tokens, later login codes)
//! move out of their bodies into a column that is cleared once the message is sent. An
//! endpoint is subscribed to a topic at most once while not canceled.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ConfirmationSends::Table)
                .col(pk_uuid(ConfirmationSends::Id))
                .col(string(ConfirmationSends::Protocol))
                .col(string(ConfirmationSends::Endpoint))
                .col(timestamp_with_time_zone(ConfirmationSends::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_confirmation_sends_endpoint")
                .table(ConfirmationSends::Table)
                .col(ConfirmationSends::Endpoint)
                .col(ConfirmationSends::SentAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(Outbox::Table).add_column(text_null(Outbox::Secrets)).to_owned()).await?;

        // Two concurrent adds could subscribe one endpoint twice; keep the oldest of any such
        // pair (cancel the others) so the index below can be built.
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE subscriptions SET status = 'canceled' WHERE status <> 'canceled' AND EXISTS (
                SELECT 1 FROM subscriptions b
                WHERE b.topic_id = subscriptions.topic_id AND b.protocol = subscriptions.protocol
                  AND b.endpoint = subscriptions.endpoint AND b.status <> 'canceled'
                  AND (b.created_at < subscriptions.created_at
                       OR (b.created_at = subscriptions.created_at AND b.id < subscriptions.id)))",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_subscriptions_active_endpoint ON subscriptions (topic_id, protocol, endpoint)
             WHERE status <> 'canceled'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP INDEX IF EXISTS uq_subscriptions_active_endpoint").await?;
        m.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::Secrets).to_owned()).await?;
        m.drop_table(Table::drop().table(ConfirmationSends::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ConfirmationSends {
    Table,
    Id,
    Protocol,
    Endpoint,
    SentAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Secrets,
}
