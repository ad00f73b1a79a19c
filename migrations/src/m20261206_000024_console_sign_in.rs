//! The console's own sign-in: password-reset links (only their SHA-256 kept; one row per
//! request, also for addresses with no account, so the rate limit says nothing about who
//! exists), tenant admins' and operators' authenticator apps for the console, the wrong codes
//! typed at the second step, and each tenant's choice whether its admins need a second factor.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PasswordResets::Table)
                .col(pk_uuid(PasswordResets::Id))
                // NULL for an address no active account has: the row only counts the request.
                .col(uuid_null(PasswordResets::UserId))
                .col(string_len(PasswordResets::Email, 254))
                .col(string_len(PasswordResets::SourceIp, 64))
                .col(string_len_null(PasswordResets::TokenHash, 64).unique_key())
                .col(timestamp_with_time_zone(PasswordResets::CreatedAt))
                .col(timestamp_with_time_zone(PasswordResets::ExpiresAt))
                .col(timestamp_with_time_zone_null(PasswordResets::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PasswordResets::Table, PasswordResets::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_password_resets_email", PasswordResets::Email),
            ("idx_password_resets_source", PasswordResets::SourceIp),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(PasswordResets::Table)
                    .col(col)
                    .col(PasswordResets::CreatedAt)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(ConsoleAuthenticators::Table)
                .col(pk_uuid(ConsoleAuthenticators::Id))
                .col(uuid(ConsoleAuthenticators::UserId))
                .col(string_len(ConsoleAuthenticators::Name, 64))
                .col(text(ConsoleAuthenticators::SecretCiphertext))
                .col(timestamp_with_time_zone_null(ConsoleAuthenticators::ConfirmedAt))
                .col(big_integer(ConsoleAuthenticators::LastUsedStep).default(0))
                .col(timestamp_with_time_zone_null(ConsoleAuthenticators::LastUsedAt))
                .col(timestamp_with_time_zone(ConsoleAuthenticators::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ConsoleAuthenticators::Table, ConsoleAuthenticators::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_console_authenticators_user")
                .table(ConsoleAuthenticators::Table)
                .col(ConsoleAuthenticators::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ConsoleWrongCodes::Table)
                .col(pk_uuid(ConsoleWrongCodes::Id))
                .col(uuid(ConsoleWrongCodes::UserId))
                .col(timestamp_with_time_zone(ConsoleWrongCodes::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ConsoleWrongCodes::Table, ConsoleWrongCodes::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_console_wrong_codes_user")
                .table(ConsoleWrongCodes::Table)
                .col(ConsoleWrongCodes::UserId)
                .col(ConsoleWrongCodes::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TenantConsolePolicies::Table)
                .col(pk_uuid(TenantConsolePolicies::TenantId))
                .col(boolean(TenantConsolePolicies::AdminsNeedSecondFactor))
                .col(timestamp_with_time_zone(TenantConsolePolicies::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(TenantConsolePolicies::Table, TenantConsolePolicies::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TenantConsolePolicies::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ConsoleWrongCodes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ConsoleAuthenticators::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PasswordResets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    UserId,
    Email,
    SourceIp,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum ConsoleAuthenticators {
    Table,
    Id,
    UserId,
    Name,
    SecretCiphertext,
    ConfirmedAt,
    LastUsedStep,
    LastUsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ConsoleWrongCodes {
    Table,
    Id,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantConsolePolicies {
    Table,
    TenantId,
    AdminsNeedSecondFactor,
    UpdatedAt,
}
