//! The 2FA rollout (revisions and durable jobs), agents (install tokens and credentials) and
//! access keys for the HSS-compatible API.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        let server_columns = [
            string_null(Servers::AgentCredentialHash),
            string_null(Servers::AgentVersion),
            text(Servers::Ips).default("").to_owned(),
            timestamp_with_time_zone_null(Servers::FactsAt),
        ];
        for mut column in server_columns {
            m.alter_table(Table::alter().table(Servers::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_servers_agent_credential")
                .table(Servers::Table)
                .col(Servers::AgentCredentialHash)
                .unique()
                .to_owned(),
        )
        .await?;

        // The rollout of each server: the newest revision (enabled/method/topic_id, already there)
        // with its phase, and what the agent last acknowledged.
        let config_columns = [
            big_integer(TwoFactorConfigs::Revision).default(0).to_owned(),
            string(TwoFactorConfigs::Phase).default("applied").to_owned(),
            timestamp_with_time_zone_null(TwoFactorConfigs::DueAt),
            timestamp_with_time_zone_null(TwoFactorConfigs::PhaseAt),
            text_null(TwoFactorConfigs::FailureReason),
            big_integer(TwoFactorConfigs::AppliedRevision).default(0).to_owned(),
            boolean(TwoFactorConfigs::AppliedEnabled).default(false).to_owned(),
            string_null(TwoFactorConfigs::AppliedMethod),
            uuid_null(TwoFactorConfigs::AppliedTopicId),
        ];
        for mut column in config_columns {
            m.alter_table(Table::alter().table(TwoFactorConfigs::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_two_factor_configs_phase")
                .table(TwoFactorConfigs::Table)
                .col(TwoFactorConfigs::Phase)
                .col(TwoFactorConfigs::PhaseAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RolloutJobs::Table)
                .col(uuid(RolloutJobs::Id).primary_key())
                .col(uuid(RolloutJobs::TenantId))
                .col(uuid(RolloutJobs::ServerId))
                .col(big_integer(RolloutJobs::Revision))
                .col(timestamp_with_time_zone(RolloutJobs::DueAt))
                // pending, done, canceled or superseded
                .col(string(RolloutJobs::Status))
                .col(string_null(RolloutJobs::LeaseOwner))
                .col(timestamp_with_time_zone_null(RolloutJobs::LeaseUntil))
                // How many times the job ran: exactly once is the rule, and tests check it.
                .col(integer(RolloutJobs::Runs).default(0))
                .col(timestamp_with_time_zone(RolloutJobs::CreatedAt))
                .col(timestamp_with_time_zone_null(RolloutJobs::FinishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RolloutJobs::Table, RolloutJobs::ServerId)
                        .to(Servers::Table, Servers::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_rollout_jobs_due")
                .table(RolloutJobs::Table)
                .col(RolloutJobs::Status)
                .col(RolloutJobs::DueAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_rollout_jobs_server")
                .table(RolloutJobs::Table)
                .col(RolloutJobs::ServerId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AgentInstallTokens::Table)
                .col(uuid(AgentInstallTokens::Id).primary_key())
                .col(uuid(AgentInstallTokens::TenantId))
                .col(string_uniq(AgentInstallTokens::TokenHash))
                .col(uuid(AgentInstallTokens::CreatedBy))
                .col(timestamp_with_time_zone(AgentInstallTokens::CreatedAt))
                .col(timestamp_with_time_zone(AgentInstallTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(AgentInstallTokens::UsedAt))
                .col(uuid_null(AgentInstallTokens::ServerId))
                .foreign_key(
                    ForeignKey::create()
                        .from(AgentInstallTokens::Table, AgentInstallTokens::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AccessKeys::Table)
                .col(uuid(AccessKeys::Id).primary_key())
                .col(uuid(AccessKeys::TenantId))
                .col(uuid(AccessKeys::CreatedBy))
                .col(string_uniq(AccessKeys::AccessKey))
                // The secret key, encrypted with the server's key (AES-256-GCM): signatures are
                // checked with it, so it cannot be stored as a one-way hash.
                .col(text(AccessKeys::SecretCiphertext))
                .col(string(AccessKeys::Description).default(""))
                // active or revoked
                .col(string(AccessKeys::Status))
                .col(timestamp_with_time_zone(AccessKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(AccessKeys::RevokedAt))
                .col(timestamp_with_time_zone_null(AccessKeys::LastUsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(AccessKeys::Table, AccessKeys::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AccessKeys::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(AgentInstallTokens::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(RolloutJobs::Table).to_owned()).await?;
        for column in [
            TwoFactorConfigs::Revision,
            TwoFactorConfigs::Phase,
            TwoFactorConfigs::DueAt,
            TwoFactorConfigs::PhaseAt,
            TwoFactorConfigs::FailureReason,
            TwoFactorConfigs::AppliedRevision,
            TwoFactorConfigs::AppliedEnabled,
            TwoFactorConfigs::AppliedMethod,
            TwoFactorConfigs::AppliedTopicId,
        ] {
            m.alter_table(Table::alter().table(TwoFactorConfigs::Table).drop_column(column).to_owned()).await?;
        }
        for column in [Servers::AgentCredentialHash, Servers::AgentVersion, Servers::Ips, Servers::FactsAt] {
            m.alter_table(Table::alter().table(Servers::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    Id,
    AgentCredentialHash,
    AgentVersion,
    Ips,
    FactsAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TwoFactorConfigs {
    Table,
    Revision,
    Phase,
    DueAt,
    PhaseAt,
    FailureReason,
    AppliedRevision,
    AppliedEnabled,
    AppliedMethod,
    AppliedTopicId,
}

#[derive(DeriveIden)]
enum RolloutJobs {
    Table,
    Id,
    TenantId,
    ServerId,
    Revision,
    DueAt,
    Status,
    LeaseOwner,
    LeaseUntil,
    Runs,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum AgentInstallTokens {
    Table,
    Id,
    TenantId,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    ServerId,
}

#[derive(DeriveIden)]
enum AccessKeys {
    Table,
    Id,
    TenantId,
    CreatedBy,
    AccessKey,
    SecretCiphertext,
    Description,
    Status,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}
