//! Indexes for finding servers by part of their name or IP address in a tenant of 100,000
//! servers (the 2FA tab's search and the HSS API's `host_name`).
//!
//! - PostgreSQL: trigram (pg_trgm) GIN indexes on `lower(name)` and `lower(ip)`, which serve the
//!   `lower(column) LIKE '%text%'` the search writes. pg_trgm ships with PostgreSQL (it is a
//!   trusted extension, so a database owner may create it); where it is not available the
//!   search still works, scanning the tenant's servers.
//! - SQLite: a covering index on (tenant_id, name, ip) that replaces the one on (tenant_id,
//!   name), so counting matches reads only the index and never the wide server rows.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, DbBackend, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                let available = db
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'",
                    ))
                    .await?
                    .is_some();
                if available {
                    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
                    db.execute_unprepared(
                        "CREATE INDEX IF NOT EXISTS idx_servers_name_trgm ON servers USING gin (lower(name) gin_trgm_ops)",
                    )
                    .await?;
                    db.execute_unprepared(
                        "CREATE INDEX IF NOT EXISTS idx_servers_ip_trgm ON servers USING gin (lower(ip) gin_trgm_ops)",
                    )
                    .await?;
                }
            }
            _ => {
                m.create_index(
                    Index::create()
                        .name("idx_servers_tenant_name_ip")
                        .table(Servers::Table)
                        .col(Servers::TenantId)
                        .col(Servers::Name)
                        .col(Servers::Ip)
                        .to_owned(),
                )
                .await?;
                m.drop_index(Index::drop().name("idx_servers_tenant_name").table(Servers::Table).to_owned()).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP INDEX IF EXISTS idx_servers_name_trgm").await?;
                db.execute_unprepared("DROP INDEX IF EXISTS idx_servers_ip_trgm").await?;
            }
            _ => {
                m.create_index(
                    Index::create()
                        .name("idx_servers_tenant_name")
                        .table(Servers::Table)
                        .col(Servers::TenantId)
                        .col(Servers::Name)
                        .to_owned(),
                )
                .await?;
                m.drop_index(Index::drop().name("idx_servers_tenant_name_ip").table(Servers::Table).to_owned()).await?;
            }
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    TenantId,
    Name,
    Ip,
}
