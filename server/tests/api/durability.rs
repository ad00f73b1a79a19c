//! A commit the console makes is on the disk before it answers: a verify answered *allowed* has
//! spent its code durably, whatever the database's own defaults. On PostgreSQL the console's
//! sessions ask for `synchronous_commit=on` themselves (the tests' cluster runs with it off,
//! `scripts/throwaway-postgres.sh`): the setting must read `on`, set by the session's startup
//! packet (`client`), not inherited from whatever the cluster says. On SQLite it must read FULL
//! (2): that is also the bundled SQLite's default, so this half guards against a lower value
//! being set, not against the setting being left out.

use crate::common::*;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn the_consoles_commits_wait_for_the_disk(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let db_backend = app.ctx.db.get_database_backend();
    let statement = match backend {
        Backend::Sqlite => "PRAGMA synchronous",
        Backend::Postgres => "SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'",
    };
    // Inside a write transaction, as a login's answer is committed, and outside one.
    let txn = domain::db::write_txn(&app.ctx.db).await.unwrap();
    let inside = txn.query_one_raw(Statement::from_string(db_backend, statement)).await.unwrap().unwrap();
    txn.rollback().await.unwrap();
    let outside = app.ctx.db.query_one_raw(Statement::from_string(db_backend, statement)).await.unwrap().unwrap();
    for row in [inside, outside] {
        match db_backend {
            // 2 is FULL: the WAL is synced at every commit.
            DbBackend::Sqlite => assert_eq!(row.try_get::<i32>("", "synchronous").unwrap(), 2),
            _ => assert_eq!(
                (row.try_get::<String>("", "setting").unwrap(), row.try_get::<String>("", "source").unwrap()),
                ("on".to_owned(), "client".to_owned())
            ),
        }
    }
    // What the console's start-up warning reads (`domain::db::postgres_durability`): this
    // session's `synchronous_commit` is `on`, so it stays quiet about it.
    if db_backend == DbBackend::Postgres {
        let settings = domain::db::postgres_durability(&app.ctx.db).await.unwrap();
        let names: Vec<&str> = settings.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["fsync", "full_page_writes", "synchronous_commit"]);
        assert!(settings.contains(&("synchronous_commit".to_owned(), "on".to_owned())), "{settings:?}");
    }
}
on_both_databases!(the_consoles_commits_wait_for_the_disk, super::the_consoles_commits_wait_for_the_disk);
