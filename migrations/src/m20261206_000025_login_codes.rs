//! "Get a code": one-time codes an end user gets in the portal for one server login (a phone
//! without network), and the single-use nonces their approval device signs to ask for one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LoginCodeNonces::Table)
                .col(pk_uuid(LoginCodeNonces::Id))
                .col(uuid(LoginCodeNonces::TenantId))
                .col(uuid(LoginCodeNonces::UserId))
                .col(string_len_uniq(LoginCodeNonces::Nonce, 64))
                .col(timestamp_with_time_zone(LoginCodeNonces::CreatedAt))
                .col(timestamp_with_time_zone(LoginCodeNonces::ExpiresAt))
                .col(timestamp_with_time_zone_null(LoginCodeNonces::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(LoginCodeNonces::Table, LoginCodeNonces::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_code_nonces_user")
                .table(LoginCodeNonces::Table)
                .col(LoginCodeNonces::UserId)
                .col(LoginCodeNonces::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LoginCodes::Table)
                .col(pk_uuid(LoginCodes::Id))
                .col(uuid(LoginCodes::TenantId))
                .col(uuid(LoginCodes::UserId))
                // The approval device that signed for it (no foreign key: the row outlives it).
                .col(uuid(LoginCodes::DeviceId))
                // argon2id of the 8 digits: a copy of the table does not give the codes.
                .col(string(LoginCodes::CodeHash))
                .col(timestamp_with_time_zone(LoginCodes::CreatedAt))
                .col(timestamp_with_time_zone(LoginCodes::ExpiresAt))
                .col(timestamp_with_time_zone_null(LoginCodes::UsedAt))
                // The server login it let in.
                .col(uuid_null(LoginCodes::LoginId))
                // A newer code replaced it before it was used.
                .col(timestamp_with_time_zone_null(LoginCodes::ReplacedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(LoginCodes::Table, LoginCodes::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_codes_user")
                .table(LoginCodes::Table)
                .col(LoginCodes::UserId)
                .col(LoginCodes::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LoginCodes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(LoginCodeNonces::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LoginCodeNonces {
    Table,
    Id,
    TenantId,
    UserId,
    Nonce,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum LoginCodes {
    Table,
    Id,
    TenantId,
    UserId,
    DeviceId,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    LoginId,
    ReplacedAt,
}
