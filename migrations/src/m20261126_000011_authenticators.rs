//! Verification-code mode: which end user a server account belongs to (tenant-wide, or on one
//! server), the end users' authenticator apps (TOTP seeds, encrypted), and their recovery codes
//! (hashed).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AccountMappings::Table)
                .col(pk_uuid(AccountMappings::Id))
                .col(uuid(AccountMappings::TenantId))
                // NULL: every server of the tenant; otherwise an override on that server.
                .col(uuid_null(AccountMappings::ServerId))
                .col(string_len(AccountMappings::Account, 64))
                .col(uuid(AccountMappings::EndUserId))
                .col(timestamp_with_time_zone(AccountMappings::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(AccountMappings::Table, AccountMappings::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AccountMappings::Table, AccountMappings::ServerId)
                        .to(Servers::Table, Servers::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AccountMappings::Table, AccountMappings::EndUserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // NULLs are distinct in a unique index (PostgreSQL and SQLite alike), so one index over
        // (tenant, server, account) would let a tenant-wide account be mapped twice: one partial
        // index per kind instead. Same SQL on both databases.
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_account_mappings_tenant_wide ON account_mappings (tenant_id, account) \
             WHERE server_id IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_account_mappings_server ON account_mappings (server_id, account) \
             WHERE server_id IS NOT NULL",
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_account_mappings_end_user")
                .table(AccountMappings::Table)
                .col(AccountMappings::EndUserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Authenticators::Table)
                .col(pk_uuid(Authenticators::Id))
                .col(uuid(Authenticators::TenantId))
                .col(uuid(Authenticators::UserId))
                .col(string_len(Authenticators::Name, 64))
                // AES-256-GCM under the server's secret key, bound to the row's id.
                .col(text(Authenticators::SecretCiphertext))
                // NULL until the user typed a code from the app: only then does it count.
                .col(timestamp_with_time_zone_null(Authenticators::ConfirmedAt))
                // The last TOTP time step accepted; a code is accepted only for a later step.
                .col(big_integer(Authenticators::LastUsedStep).default(0))
                .col(timestamp_with_time_zone_null(Authenticators::LastUsedAt))
                .col(timestamp_with_time_zone(Authenticators::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Authenticators::Table, Authenticators::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_authenticators_user")
                .table(Authenticators::Table)
                .col(Authenticators::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RecoveryCodes::Table)
                .col(pk_uuid(RecoveryCodes::Id))
                .col(uuid(RecoveryCodes::TenantId))
                .col(uuid(RecoveryCodes::UserId))
                .col(string(RecoveryCodes::CodeHash))
                .col(timestamp_with_time_zone(RecoveryCodes::CreatedAt))
                .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RecoveryCodes::Table, RecoveryCodes::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_recovery_codes_user")
                .table(RecoveryCodes::Table)
                .col(RecoveryCodes::UserId)
                .col(RecoveryCodes::CodeHash)
                .to_owned(),
        )
        .await?;
        // A user's sign-in history reads their logins newest first.
        m.create_index(
            Index::create()
                .name("idx_server_logins_end_user")
                .table(ServerLogins::Table)
                .col(ServerLogins::EndUserId)
                .col(ServerLogins::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_server_logins_end_user").table(ServerLogins::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(RecoveryCodes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Authenticators::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(AccountMappings::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ServerLogins {
    Table,
    EndUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AccountMappings {
    Table,
    Id,
    TenantId,
    ServerId,
    Account,
    EndUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Authenticators {
    Table,
    Id,
    TenantId,
    UserId,
    Name,
    SecretCiphertext,
    ConfirmedAt,
    LastUsedStep,
    LastUsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    TenantId,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}
