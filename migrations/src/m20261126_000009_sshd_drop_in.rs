//! Whether sshd reads HostGuard's sshd drop-in before any setting that would override it, as the
//! agent reports it (`proto::agent::SshdDropInCheck` as JSON; NULL from agents that do not).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Servers::Table).add_column(text_null(Servers::SshdDropIn)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::SshdDropIn).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    SshdDropIn,
}
