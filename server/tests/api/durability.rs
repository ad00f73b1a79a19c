//! A commit the console makes is on the disk before it answers: a verify answered *allowed* has
//! spent its code durably, whatever the database's own defaults. The tests' PostgreSQL cluster
//! runs with `synchronous_commit=off` (`scripts/throwaway-postgres.sh`, for speed), so on
//! PostgreSQL this reads `off` unless the console's sessions ask for `on` themselves.

use crate::common::*;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn the_consoles_commits_wait_for_the_disk(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let (statement, column) = match backend {
        Backend::Sqlite => ("PRAGMA synchronous", "synchronous"),
        Backend::Postgres => ("SHOW synchronous_commit", "synchronous_commit"),
    };
    let db_backend = app.ctx.db.get_database_backend();
    // Inside a write transaction, as a login's answer is committed, and outside one.
    let txn = domain::db::write_txn(&app.ctx.db).await.unwrap();
    let inside = txn.query_one_raw(Statement::from_string(db_backend, statement)).await.unwrap().unwrap();
    txn.rollback().await.unwrap();
    let outside = app.ctx.db.query_one_raw(Statement::from_string(db_backend, statement)).await.unwrap().unwrap();
    for row in [inside, outside] {
        match db_backend {
            // 2 is FULL: the WAL is synced at every commit.
            DbBackend::Sqlite => assert_eq!(row.try_get::<i32>("", column).unwrap(), 2),
            _ => assert_eq!(row.try_get::<String>("", column).unwrap(), "on"),
        }
    }
}
on_both_databases!(the_consoles_commits_wait_for_the_disk, super::the_consoles_commits_wait_for_the_disk);
