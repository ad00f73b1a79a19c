//! Topic subscriptions, the message outbox and the audit trail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Subscriptions::Table)
                .col(pk_uuid(Subscriptions::Id))
                .col(uuid(Subscriptions::TenantId))
                .col(uuid(Subscriptions::TopicId))
                .col(string(Subscriptions::Protocol))
                .col(string(Subscriptions::Endpoint))
                .col(string(Subscriptions::Remark))
                .col(string(Subscriptions::Status))
                .col(string_null(Subscriptions::ConfirmTokenHash))
                .col(timestamp_with_time_zone_null(Subscriptions::ConfirmExpiresAt))
                .col(timestamp_with_time_zone(Subscriptions::CreatedAt))
                .col(timestamp_with_time_zone_null(Subscriptions::ConfirmedAt))
                .col(timestamp_with_time_zone_null(Subscriptions::CanceledAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Subscriptions::Table, Subscriptions::TopicId)
                        .to(Topics::Table, Topics::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_subscriptions_topic")
                .table(Subscriptions::Table)
                .col(Subscriptions::TopicId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_subscriptions_confirm")
                .table(Subscriptions::Table)
                .col(Subscriptions::ConfirmTokenHash)
                .to_owned(),
        )
        .await?;
        // Every message carries its own unsubscribe link; each stays valid until the
        // subscription is gone, so the tokens (hashed) are kept apart from the subscription.
        m.create_table(
            Table::create()
                .table(UnsubscribeTokens::Table)
                .col(string(UnsubscribeTokens::TokenHash).primary_key())
                .col(uuid(UnsubscribeTokens::SubscriptionId))
                .col(timestamp_with_time_zone(UnsubscribeTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UnsubscribeTokens::Table, UnsubscribeTokens::SubscriptionId)
                        .to(Subscriptions::Table, Subscriptions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(pk_uuid(Outbox::Id))
                .col(uuid_null(Outbox::TenantId))
                .col(string(Outbox::Channel))
                .col(string(Outbox::Kind))
                .col(string(Outbox::Recipient))
                .col(string(Outbox::SenderName))
                .col(string(Outbox::Subject))
                .col(text(Outbox::BodyText))
                .col(text(Outbox::BodyHtml))
                .col(string(Outbox::Status))
                .col(integer(Outbox::Attempts))
                .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                .col(string_null(Outbox::LeaseOwner))
                .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
                .col(text_null(Outbox::LastError))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone_null(Outbox::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_due")
                .table(Outbox::Table)
                .col(Outbox::Status)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_recipient")
                .table(Outbox::Table)
                .col(Outbox::Recipient)
                .col(Outbox::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(pk_uuid(AuditEvents::Id))
                .col(uuid_null(AuditEvents::TenantId))
                .col(string(AuditEvents::Actor))
                .col(string(AuditEvents::Action))
                .col(string(AuditEvents::Target))
                .col(text(AuditEvents::Detail))
                .col(string(AuditEvents::SourceIp))
                .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_tenant_time")
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .col(AuditEvents::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AuditEvents::Table.into_iden(),
            Outbox::Table.into_iden(),
            UnsubscribeTokens::Table.into_iden(),
            Subscriptions::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    TenantId,
    TopicId,
    Protocol,
    Endpoint,
    Remark,
    Status,
    ConfirmTokenHash,
    ConfirmExpiresAt,
    CreatedAt,
    ConfirmedAt,
    CanceledAt,
}

#[derive(DeriveIden)]
enum UnsubscribeTokens {
    Table,
    TokenHash,
    SubscriptionId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    TenantId,
    Channel,
    Kind,
    Recipient,
    SenderName,
    Subject,
    BodyText,
    BodyHtml,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    Actor,
    Action,
    Target,
    Detail,
    SourceIp,
    CreatedAt,
}
