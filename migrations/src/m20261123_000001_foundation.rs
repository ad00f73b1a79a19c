//! Tenants, users, sign-in throttling, sessions, servers and notification topics.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(pk_uuid(Tenants::Id))
                .col(string_uniq(Tenants::Name))
                .col(string_uniq(Tenants::ProjectId))
                .col(timestamp_with_time_zone(Tenants::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(uuid_null(Users::TenantId))
                .col(string_uniq(Users::Email))
                .col(string(Users::DisplayName))
                .col(string(Users::Role))
                .col(string(Users::PasswordHash))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_users_tenant").table(Users::Table).col(Users::TenantId).to_owned())
            .await?;

        m.create_table(
            Table::create()
                .table(LoginAttempts::Table)
                .col(string(LoginAttempts::Login).primary_key())
                .col(integer(LoginAttempts::Failures))
                .col(timestamp_with_time_zone_null(LoginAttempts::LastFailureAt))
                .col(timestamp_with_time_zone_null(LoginAttempts::LockedUntil))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(string(Sessions::Id).primary_key())
                .col(text(Sessions::Data))
                .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_sessions_expires").table(Sessions::Table).col(Sessions::ExpiresAt).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Servers::Table)
                .col(pk_uuid(Servers::Id))
                .col(uuid(Servers::TenantId))
                .col(string(Servers::Name))
                .col(string(Servers::Ip))
                .col(string(Servers::OsType))
                .col(string(Servers::OsName))
                .col(string(Servers::Region))
                .col(boolean(Servers::ProtectionEnabled))
                .col(string(Servers::AgentStatus))
                .col(timestamp_with_time_zone_null(Servers::LastSeenAt))
                .col(timestamp_with_time_zone(Servers::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Servers::Table, Servers::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_servers_tenant_name")
                .table(Servers::Table)
                .col(Servers::TenantId)
                .col(Servers::Name)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Topics::Table)
                .col(pk_uuid(Topics::Id))
                .col(uuid(Topics::TenantId))
                .col(string_len(Topics::Name, 255))
                .col(string_len(Topics::DisplayName, 192))
                .col(string_uniq(Topics::Urn))
                .col(timestamp_with_time_zone(Topics::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Topics::Table, Topics::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_topics_tenant_name")
                .unique()
                .table(Topics::Table)
                .col(Topics::TenantId)
                .col(Topics::Name)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Topics::Table.into_iden(),
            Servers::Table.into_iden(),
            Sessions::Table.into_iden(),
            LoginAttempts::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    ProjectId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    DisplayName,
    Role,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Login,
    Failures,
    LastFailureAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    Id,
    TenantId,
    Name,
    Ip,
    OsType,
    OsName,
    Region,
    ProtectionEnabled,
    AgentStatus,
    LastSeenAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
    TenantId,
    Name,
    DisplayName,
    Urn,
    CreatedAt,
}
