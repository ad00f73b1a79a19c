//! The 2FA configuration each server should have: on or off, the method, and for SMS/Email the
//! topic whose endpoints receive the codes. The rollout (revisions, jobs, agent acks) builds on it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TwoFactorConfigs::Table)
                .col(uuid(TwoFactorConfigs::ServerId).primary_key())
                .col(uuid(TwoFactorConfigs::TenantId))
                .col(boolean(TwoFactorConfigs::Enabled))
                .col(string(TwoFactorConfigs::Method))
                .col(uuid_null(TwoFactorConfigs::TopicId))
                .col(timestamp_with_time_zone(TwoFactorConfigs::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(TwoFactorConfigs::Table, TwoFactorConfigs::ServerId)
                        .to(Servers::Table, Servers::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(TwoFactorConfigs::Table, TwoFactorConfigs::TopicId)
                        .to(Topics::Table, Topics::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_two_factor_configs_topic")
                .table(TwoFactorConfigs::Table)
                .col(TwoFactorConfigs::TopicId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TwoFactorConfigs::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum TwoFactorConfigs {
    Table,
    ServerId,
    TenantId,
    Enabled,
    Method,
    TopicId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
}
