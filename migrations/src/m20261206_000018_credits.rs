//! Each tenant's MFA credits: a ledger whose sum is the balance (calls and SMS passcodes spend
//! from it). Tenants that exist already get the Free plan's 500, as new ones do.

use sea_orm_migration::sea_orm::ConnectionTrait;
use uuid::Uuid;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The Free plan's grant (`domain::credits::FREE_PLAN`).
const FREE_PLAN: i32 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CreditLedger::Table)
                .col(pk_uuid(CreditLedger::Id))
                .col(uuid(CreditLedger::TenantId))
                .col(integer(CreditLedger::Delta))
                .col(string_len(CreditLedger::Kind, 32))
                // The login a charge paid for; kept when the login's audit row is purged.
                .col(uuid_null(CreditLedger::LoginId))
                .col(timestamp_with_time_zone(CreditLedger::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(CreditLedger::Table, CreditLedger::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_credit_ledger_tenant")
                .table(CreditLedger::Table)
                .col(CreditLedger::TenantId)
                .col(CreditLedger::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_credit_ledger_login")
                .table(CreditLedger::Table)
                .col(CreditLedger::LoginId)
                .to_owned(),
        )
        .await?;
        // The backfill: the Free plan's grant for every tenant there is.
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let select = Query::select().column(Tenants::Id).from(Tenants::Table).to_owned();
        let rows = db.query_all_raw(backend.build(&select)).await?;
        let now = sea_orm_migration::sea_orm::prelude::ChronoUtc::now();
        for row in rows {
            let tenant: Uuid = row.try_get("", "id")?;
            let insert = Query::insert()
                .into_table(CreditLedger::Table)
                .columns([
                    CreditLedger::Id,
                    CreditLedger::TenantId,
                    CreditLedger::Delta,
                    CreditLedger::Kind,
                    CreditLedger::CreatedAt,
                ])
                .values_panic([
                    Uuid::new_v4().into(),
                    tenant.into(),
                    FREE_PLAN.into(),
                    "free_plan".into(),
                    now.into(),
                ])
                .to_owned();
            db.execute_raw(backend.build(&insert)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CreditLedger::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CreditLedger {
    Table,
    Id,
    TenantId,
    Delta,
    Kind,
    LoginId,
    CreatedAt,
}

#[cfg(test)]
mod tests {
    use crate::{Migrator, MigratorTrait};
    use sea_orm_migration::sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};

    #[tokio::test]
    async fn existing_tenants_get_the_free_plan() {
        // One connection: each connection to `sqlite::memory:` is a database of its own.
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1).sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        Migrator::up(&db, Some(17)).await.unwrap();
        for n in 1..=2 {
            db.execute_unprepared(&format!(
                "INSERT INTO tenants (id, name, project_id, created_at) VALUES (X'{n:032x}', 'T{n}', 'p{n}', '2026-12-01T00:00:00Z')"
            ))
            .await
            .unwrap();
        }
        Migrator::up(&db, None).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT tenant_id, SUM(delta) AS balance, COUNT(*) AS n FROM credit_ledger GROUP BY tenant_id",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "one grant per tenant");
        for r in rows {
            assert_eq!(r.try_get::<i64>("", "balance").unwrap(), 500);
            assert_eq!(r.try_get::<i64>("", "n").unwrap(), 1);
        }
    }
}
