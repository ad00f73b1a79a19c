//! The approval side of push: the devices (browsers, phones) whose WebCrypto P-256 keys sign
//! every decision on a push request, the pauses of out-of-portal notifications after "This
//! wasn't me" or repeated denials, and the tenant's choice to lock a person who reports one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApprovalDevices::Table)
                .col(pk_uuid(ApprovalDevices::Id))
                .col(uuid(ApprovalDevices::TenantId))
                .col(uuid(ApprovalDevices::UserId))
                .col(string(ApprovalDevices::Name))
                // The public key as SubjectPublicKeyInfo DER; the private key never leaves the
                // device (a non-extractable WebCrypto key).
                .col(binary(ApprovalDevices::PublicKey))
                .col(timestamp_with_time_zone(ApprovalDevices::CreatedAt))
                .col(timestamp_with_time_zone_null(ApprovalDevices::LastUsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApprovalDevices::Table, ApprovalDevices::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_approval_devices_user")
                .table(ApprovalDevices::Table)
                .col(ApprovalDevices::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PushMutes::Table)
                .col(pk_uuid(PushMutes::Id))
                .col(uuid(PushMutes::TenantId))
                .col(uuid(PushMutes::UserId))
                .col(string_len(PushMutes::Reason, 16))
                // The request whose decision started it.
                .col(uuid(PushMutes::RequestId))
                .col(timestamp_with_time_zone(PushMutes::CreatedAt))
                .col(timestamp_with_time_zone(PushMutes::Until))
                .foreign_key(
                    ForeignKey::create()
                        .from(PushMutes::Table, PushMutes::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_push_mutes_user")
                .table(PushMutes::Table)
                .col(PushMutes::UserId)
                .col(PushMutes::Until)
                .to_owned(),
        )
        .await?;
        // Off by default: locking on a report lets anyone who knows a password lock its owner out.
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(boolean(Tenants::LockOnFraudReport).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::LockOnFraudReport).to_owned()).await?;
        m.drop_table(Table::drop().table(PushMutes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ApprovalDevices::Table).to_owned()).await
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
    LockOnFraudReport,
}

#[derive(DeriveIden)]
enum ApprovalDevices {
    Table,
    Id,
    TenantId,
    UserId,
    Name,
    PublicKey,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PushMutes {
    Table,
    Id,
    TenantId,
    UserId,
    Reason,
    RequestId,
    CreatedAt,
    Until,
}
