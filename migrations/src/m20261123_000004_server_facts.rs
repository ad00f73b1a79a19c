//! Facts the agent reports about a server, from which the console judges its readiness for 2FA.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        let columns = [
            string_null(Servers::OpensshVersion),
            boolean_null(Servers::SshdUsePam),
            boolean_null(Servers::SshdKbdInteractive),
            boolean_null(Servers::SshdPermitEmptyPasswords),
            string_null(Servers::Selinux),
            text(Servers::MustChangePasswordAccounts).default("").to_owned(),
            text(Servers::ConflictingSoftware).default("").to_owned(),
        ];
        for mut column in columns {
            m.alter_table(Table::alter().table(Servers::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Servers::OpensshVersion,
            Servers::SshdUsePam,
            Servers::SshdKbdInteractive,
            Servers::SshdPermitEmptyPasswords,
            Servers::Selinux,
            Servers::MustChangePasswordAccounts,
            Servers::ConflictingSoftware,
        ] {
            m.alter_table(Table::alter().table(Servers::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    OpensshVersion,
    SshdUsePam,
    SshdKbdInteractive,
    SshdPermitEmptyPasswords,
    Selinux,
    /// Windows accounts with "User must change password at next logon", comma-separated.
    MustChangePasswordAccounts,
    /// Conflicting security software, comma-separated.
    ConflictingSoftware,
}
