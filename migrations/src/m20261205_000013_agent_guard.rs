//! What the console keeps about each server's agent beyond its facts: when a credential for the
//! server was last refused (an agent whose credential was replaced keeps calling), and how many
//! offline logins it reported in the current day-long window (a per-server cap). One row per
//! server, written only when one of these changes. Also an index for the login audit's
//! retention purge, which deletes by age across all tenants.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AgentGuards::Table)
                .col(pk_uuid(AgentGuards::ServerId))
                .col(uuid(AgentGuards::TenantId))
                .col(timestamp_with_time_zone_null(AgentGuards::CredentialRejectedAt))
                .col(timestamp_with_time_zone_null(AgentGuards::OfflineWindowStart))
                .col(big_integer(AgentGuards::OfflineRowsInWindow).default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_server_logins_created")
                .table(ServerLogins::Table)
                .col(ServerLogins::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_server_logins_created").table(ServerLogins::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(AgentGuards::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AgentGuards {
    Table,
    ServerId,
    TenantId,
    CredentialRejectedAt,
    OfflineWindowStart,
    OfflineRowsInWindow,
}

#[derive(DeriveIden)]
enum ServerLogins {
    Table,
    CreatedAt,
}
