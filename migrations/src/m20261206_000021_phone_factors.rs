//! Phones as a factor (SMS passcodes and "call me"), each confirmed by a code sent to it, and
//! the person's choice of the method a login prompt tries first.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Phones::Table)
                .col(pk_uuid(Phones::Id))
                .col(uuid(Phones::TenantId))
                .col(uuid(Phones::UserId))
                .col(string(Phones::Name))
                // E.164: `+` and 7 to 15 digits.
                .col(string(Phones::Number))
                // NULL while the code sent to it is not yet typed back. A user has at most one
                // confirmed phone (the one in force) and one pending (its replacement).
                .col(timestamp_with_time_zone_null(Phones::ConfirmedAt))
                // The pending confirmation code's SHA-256 (bound to the phone), and its rules.
                .col(string_null(Phones::CodeHash))
                .col(timestamp_with_time_zone_null(Phones::CodeExpiresAt))
                .col(integer(Phones::CodeAttempts).default(0))
                .col(timestamp_with_time_zone_null(Phones::CodeSentAt))
                // Codes sent for this pending phone (and the ones it replaced within the hour).
                .col(integer(Phones::CodesSent).default(0))
                .col(timestamp_with_time_zone_null(Phones::LastUsedAt))
                .col(timestamp_with_time_zone(Phones::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Phones::Table, Phones::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_phones_user").table(Phones::Table).col(Phones::UserId).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(FactorPreferences::Table)
                .col(pk_uuid(FactorPreferences::UserId))
                .col(uuid(FactorPreferences::TenantId))
                // push, call, sms or code (proto::DefaultMethod).
                .col(string(FactorPreferences::DefaultMethod))
                .col(timestamp_with_time_zone(FactorPreferences::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(FactorPreferences::Table, FactorPreferences::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FactorPreferences::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Phones::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Phones {
    Table,
    Id,
    TenantId,
    UserId,
    Name,
    Number,
    ConfirmedAt,
    CodeHash,
    CodeExpiresAt,
    CodeAttempts,
    CodeSentAt,
    CodesSent,
    LastUsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FactorPreferences {
    Table,
    UserId,
    TenantId,
    DefaultMethod,
    UpdatedAt,
}
