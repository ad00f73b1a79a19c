//! An agent is online when it was heard from in the last 3 minutes, computed from
//! `servers.last_seen_at` and the clock (`domain::agents::agent_online`). The stored
//! `agent_status` column was a second truth that went stale (servers without an agent stayed
//! "online" forever), so it goes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::AgentStatus).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Servers::Table)
                .add_column(ColumnDef::new(Servers::AgentStatus).string().not_null().default("offline"))
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    AgentStatus,
}
