//! What made a failed 2FA revision fail (`agent_error` or `deadline`), stored next to the
//! reason, so the rollout decides by the kind and never by the reason's words. Failures stored
//! before get their kind from the reason the deadline check wrote.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How the deadline check's reasons began (`domain::rollout::deadline_reason`).
const DEADLINE_REASON_LIKE: &str = "the agent did not acknowledge within%";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(TwoFactorConfigs::Table)
                .add_column(string_null(TwoFactorConfigs::FailureKind))
                .to_owned(),
        )
        .await?;
        let failed = || Expr::col(TwoFactorConfigs::Phase).eq("failed");
        m.exec_stmt(
            Query::update()
                .table(TwoFactorConfigs::Table)
                .value(TwoFactorConfigs::FailureKind, "deadline")
                .and_where(failed())
                .and_where(Expr::col(TwoFactorConfigs::FailureReason).like(DEADLINE_REASON_LIKE))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::update()
                .table(TwoFactorConfigs::Table)
                .value(TwoFactorConfigs::FailureKind, "agent_error")
                .and_where(failed())
                .and_where(Expr::col(TwoFactorConfigs::FailureKind).is_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(TwoFactorConfigs::Table).drop_column(TwoFactorConfigs::FailureKind).to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum TwoFactorConfigs {
    Table,
    Phase,
    FailureReason,
    FailureKind,
}

#[cfg(test)]
mod tests {
    use crate::{Migrator, MigratorTrait};
    use sea_orm_migration::sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

    async fn kinds(db: &DatabaseConnection) -> Vec<(String, Option<String>)> {
        let rows = db
            .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT phase, failure_kind FROM two_factor_configs ORDER BY tenant_id",
            ))
            .await
            .unwrap();
        rows.iter().map(|r| (r.try_get("", "phase").unwrap(), r.try_get("", "failure_kind").unwrap())).collect()
    }

    #[tokio::test]
    async fn stored_failures_get_their_kind_from_their_reason() {
        // One connection: each connection to `sqlite::memory:` is a database of its own.
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1).sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        Migrator::up(&db, Some(15)).await.unwrap();
        // The rows alone matter here, not the servers they belong to.
        db.execute_unprepared("PRAGMA foreign_keys = OFF").await.unwrap();
        for (n, phase, reason) in [
            (1, "failed", "'the agent did not acknowledge within 10 minutes; it may be offline'"),
            (2, "failed", "'the agent could not apply it: sshd -t failed'"),
            (3, "applied", "NULL"),
        ] {
            db.execute_unprepared(&format!(
                "INSERT INTO two_factor_configs (server_id, tenant_id, enabled, method, updated_at, phase, failure_reason) \
                 VALUES ('{n}', '{n}', 1, 'code', '2026-12-01T00:00:00Z', '{phase}', {reason})"
            ))
            .await
            .unwrap();
        }
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(
            kinds(&db).await,
            [
                ("failed".into(), Some("deadline".into())),
                ("failed".into(), Some("agent_error".into())),
                ("applied".into(), None),
            ]
        );
    }
}
