//! The agent's check of sshd's PAM auth stack (`proto::agent::PamStackCheck` as JSON; NULL from
//! agents that do not report it), and how many sshd `Match` settings the agent found beyond the
//! ones it lists.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds only one column per ALTER TABLE.
        m.alter_table(Table::alter().table(Servers::Table).add_column(text_null(Servers::PamStack)).to_owned()).await?;
        m.alter_table(
            Table::alter()
                .table(Servers::Table)
                .add_column(integer(Servers::SshdMatchOverridesMore).default(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::SshdMatchOverridesMore).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::PamStack).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    PamStack,
    SshdMatchOverridesMore,
}
