//! Logins to servers: every attempt that reached HostGuard's PAM module (the login audit, and
//! the state of a login's dialogue while it runs), each server's login settings (fail mode,
//! exemptions), and its break-glass codes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ServerLogins::Table)
                .col(pk_uuid(ServerLogins::Id))
                .col(uuid(ServerLogins::TenantId))
                .col(uuid(ServerLogins::ServerId))
                .col(string(ServerLogins::ServerName))
                .col(string(ServerLogins::Account))
                .col(string(ServerLogins::SourceIp))
                .col(string(ServerLogins::SourceBlock))
                .col(string(ServerLogins::Service))
                .col(string(ServerLogins::Method))
                .col(integer(ServerLogins::Number))
                .col(string(ServerLogins::Stage))
                .col(string_null(ServerLogins::CodeHash))
                .col(timestamp_with_time_zone_null(ServerLogins::CodeSentAt))
                .col(timestamp_with_time_zone_null(ServerLogins::CodeExpiresAt))
                .col(integer(ServerLogins::Attempts).default(0))
                .col(string_null(ServerLogins::Result))
                .col(text(ServerLogins::Reason).default(""))
                .col(boolean(ServerLogins::Offline).default(false))
                .col(uuid_null(ServerLogins::EndUserId))
                .col(timestamp_with_time_zone(ServerLogins::CreatedAt))
                .col(timestamp_with_time_zone_null(ServerLogins::FinishedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_server_logins_tenant", vec![ServerLogins::TenantId, ServerLogins::CreatedAt]),
            ("idx_server_logins_server", vec![ServerLogins::ServerId, ServerLogins::CreatedAt]),
            ("idx_server_logins_account", vec![ServerLogins::ServerId, ServerLogins::Account, ServerLogins::CodeSentAt]),
            ("idx_server_logins_source", vec![ServerLogins::SourceBlock, ServerLogins::CodeSentAt]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(ServerLogins::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(LoginSettings::Table)
                .col(pk_uuid(LoginSettings::ServerId))
                .col(uuid(LoginSettings::TenantId))
                .col(string(LoginSettings::FailMode).default("secure"))
                .col(boolean(LoginSettings::AllowUnenrolled).default(false))
                .col(text(LoginSettings::ExemptAccounts).default("[]"))
                .col(text(LoginSettings::ExemptNetworks).default("[]"))
                .col(timestamp_with_time_zone(LoginSettings::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BreakGlassCodes::Table)
                .col(pk_uuid(BreakGlassCodes::Id))
                .col(uuid(BreakGlassCodes::TenantId))
                .col(uuid(BreakGlassCodes::ServerId))
                .col(string(BreakGlassCodes::Sha256))
                .col(timestamp_with_time_zone(BreakGlassCodes::CreatedAt))
                .col(timestamp_with_time_zone_null(BreakGlassCodes::UsedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_break_glass_codes_server")
                .table(BreakGlassCodes::Table)
                .col(BreakGlassCodes::ServerId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(BreakGlassCodes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(LoginSettings::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ServerLogins::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ServerLogins {
    Table,
    Id,
    TenantId,
    ServerId,
    ServerName,
    Account,
    SourceIp,
    SourceBlock,
    Service,
    Method,
    Number,
    Stage,
    CodeHash,
    CodeSentAt,
    CodeExpiresAt,
    Attempts,
    Result,
    Reason,
    Offline,
    EndUserId,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum LoginSettings {
    Table,
    ServerId,
    TenantId,
    FailMode,
    AllowUnenrolled,
    ExemptAccounts,
    ExemptNetworks,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BreakGlassCodes {
    Table,
    Id,
    TenantId,
    ServerId,
    Sha256,
    CreatedAt,
    UsedAt,
}
