//! Guards on changing an end user's factors: step-ups (a current code typed in one portal
//! session, which then may change factors for a few minutes; wrong ones are counted), and
//! enrolment windows (a tenant admin lets a user without factors add a first one).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FactorStepUps::Table)
                .col(pk_uuid(FactorStepUps::Id))
                .col(uuid(FactorStepUps::TenantId))
                .col(uuid(FactorStepUps::UserId))
                // The portal session the code was typed in (kept in that session's own data);
                // NULL for a wrong code.
                .col(uuid_null(FactorStepUps::SessionRef))
                .col(boolean(FactorStepUps::Succeeded))
                .col(timestamp_with_time_zone(FactorStepUps::CreatedAt))
                .col(timestamp_with_time_zone_null(FactorStepUps::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(FactorStepUps::Table, FactorStepUps::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_factor_step_ups_user")
                .table(FactorStepUps::Table)
                .col(FactorStepUps::UserId)
                .col(FactorStepUps::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EnrolmentWindows::Table)
                .col(pk_uuid(EnrolmentWindows::Id))
                .col(uuid(EnrolmentWindows::TenantId))
                .col(uuid(EnrolmentWindows::UserId))
                .col(string(EnrolmentWindows::OpenedBy))
                .col(timestamp_with_time_zone(EnrolmentWindows::OpenedAt))
                .col(timestamp_with_time_zone(EnrolmentWindows::ExpiresAt))
                // Set when the user added their first factor with it: a window lets in one.
                .col(timestamp_with_time_zone_null(EnrolmentWindows::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(EnrolmentWindows::Table, EnrolmentWindows::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_enrolment_windows_user")
                .table(EnrolmentWindows::Table)
                .col(EnrolmentWindows::UserId)
                .col(EnrolmentWindows::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(EnrolmentWindows::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(FactorStepUps::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum FactorStepUps {
    Table,
    Id,
    TenantId,
    UserId,
    SessionRef,
    Succeeded,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum EnrolmentWindows {
    Table,
    Id,
    TenantId,
    UserId,
    OpenedBy,
    OpenedAt,
    ExpiresAt,
    UsedAt,
}
