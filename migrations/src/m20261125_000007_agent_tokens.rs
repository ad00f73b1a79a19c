//! Agent tokens that can be revoked and bound to one server (a re-install from that server's
//! page), and the sshd `Match` blocks the agent reports because they can undo 2FA for some logins.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        let token_columns = [
            timestamp_with_time_zone_null(AgentInstallTokens::RevokedAt),
            uuid_null(AgentInstallTokens::ReinstallServerId),
        ];
        for mut column in token_columns {
            m.alter_table(Table::alter().table(AgentInstallTokens::Table).add_column(&mut column).to_owned()).await?;
        }
        m.alter_table(
            Table::alter().table(Servers::Table).add_column(text(Servers::SshdMatchOverrides).default("")).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_agent_install_tokens_tenant")
                .table(AgentInstallTokens::Table)
                .col(AgentInstallTokens::TenantId)
                .col(AgentInstallTokens::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_agent_install_tokens_tenant").table(AgentInstallTokens::Table).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::SshdMatchOverrides).to_owned()).await?;
        for column in [AgentInstallTokens::RevokedAt, AgentInstallTokens::ReinstallServerId] {
            m.alter_table(Table::alter().table(AgentInstallTokens::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AgentInstallTokens {
    Table,
    TenantId,
    CreatedAt,
    RevokedAt,
    /// Set on a re-install token: the only server it may register, replacing its agent.
    ReinstallServerId,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    /// JSON list of the sshd `Match` blocks that change 2FA's settings, as the agent reported.
    SshdMatchOverrides,
}
