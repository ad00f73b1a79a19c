//! Passkeys (WebAuthn): an end user's credentials, each kept as webauthn-rs's serialised
//! `Passkey` beside its credential id (unique over every tenant, so one credential can never
//! belong to two people), and the ceremonies under way: the server-side state of a
//! registration, sign-in, step-up or push approval between its two calls, single use and short
//! lived.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Passkeys::Table)
                .col(pk_uuid(Passkeys::Id))
                .col(uuid(Passkeys::TenantId))
                .col(uuid(Passkeys::UserId))
                .col(string(Passkeys::Name))
                .col(binary(Passkeys::CredentialId))
                // webauthn-rs's `Passkey` as JSON: the public key and the signature counter.
                .col(text(Passkeys::Credential))
                .col(timestamp_with_time_zone(Passkeys::CreatedAt))
                .col(timestamp_with_time_zone_null(Passkeys::LastUsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Passkeys::Table, Passkeys::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_passkeys_credential_id")
                .table(Passkeys::Table)
                .col(Passkeys::CredentialId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_passkeys_user").table(Passkeys::Table).col(Passkeys::UserId).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(PasskeyCeremonies::Table)
                .col(pk_uuid(PasskeyCeremonies::Id))
                .col(string_len(PasskeyCeremonies::Purpose, 16))
                // Unknown for a sign-in until the authenticator names its user.
                .col(uuid_null(PasskeyCeremonies::TenantId))
                .col(uuid_null(PasskeyCeremonies::UserId))
                // The portal session a registration or step-up belongs to.
                .col(uuid_null(PasskeyCeremonies::SessionRef))
                // A registration's name for the new passkey.
                .col(string_null(PasskeyCeremonies::Name))
                // An approval's request, number and decision: what the assertion decides.
                .col(uuid_null(PasskeyCeremonies::RequestId))
                .col(integer_null(PasskeyCeremonies::Number))
                .col(string_len_null(PasskeyCeremonies::Decision, 16))
                // webauthn-rs's registration or authentication state (holds the challenge).
                .col(text(PasskeyCeremonies::State))
                .col(timestamp_with_time_zone(PasskeyCeremonies::CreatedAt))
                .col(timestamp_with_time_zone(PasskeyCeremonies::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_passkey_ceremonies_expires")
                .table(PasskeyCeremonies::Table)
                .col(PasskeyCeremonies::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PasskeyCeremonies::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Passkeys::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    TenantId,
    UserId,
    Name,
    CredentialId,
    Credential,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PasskeyCeremonies {
    Table,
    Id,
    Purpose,
    TenantId,
    UserId,
    SessionRef,
    Name,
    RequestId,
    Number,
    Decision,
    State,
    CreatedAt,
    ExpiresAt,
}
