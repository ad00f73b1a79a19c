//! An index on the 2FA configurations of a tenant by phase, so the 2FA tab counts the servers
//! of a status (or a method) from the tenant's configurations alone, without joining every
//! server of the tenant (`domain::two_factor::list`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_two_factor_configs_tenant_phase";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(NAME)
                .table(TwoFactorConfigs::Table)
                .col(TwoFactorConfigs::TenantId)
                .col(TwoFactorConfigs::Phase)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(NAME).table(TwoFactorConfigs::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum TwoFactorConfigs {
    Table,
    TenantId,
    Phase,
}
