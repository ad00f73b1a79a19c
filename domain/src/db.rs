//! Connecting to the database (SQLite file or PostgreSQL URL), applying migrations, and the one
//! way the rules serialize on what they read before they write: [`write_txn`], then
//! [`lock_rows`] (or [`lock_key`] for a count with no row of its own). Also the one test for a
//! unique-index violation, [`is_unique_violation`].

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    Iterable, PrimaryKeyToColumn, QueryFilter, QueryOrder, QuerySelect, SqlErr, Statement,
};
use std::time::Duration;
use uuid::Uuid;

/// The page cache of each pooled SQLite connection, in KiB (`PRAGMA cache_size`).
const SQLITE_CACHE_KIB: u32 = 256;

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url) {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    // A request waits at most 5 s for a pooled connection, then is refused as busy: well inside
    // the agent's 10 s login call, so a drained pool answers a login (refused) before the agent
    // would take the silence for an outage.
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(5))
        .max_connections(16)
        // Each pooled SQLite connection has its own page cache, 2 MB by default, which reads
        // across 100,000 servers fill: 16 of them were a quarter of the console's memory with
        // 10,000 agents waiting. The file's pages stay in the OS's cache, so a smaller one
        // costs a read() of a page rather than a copy.
        .map_sqlx_sqlite_opts(|o| {
            o.pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
                // A commit returns once it is on the disk (in WAL mode, FULL syncs the WAL at
                // every commit; NORMAL would leave the last commits to a power cut). A spent code
                // must stay spent. The bundled SQLite's default already, written down so that no
                // later option or a SQLite built with another default lowers it.
                .pragma("synchronous", "FULL")
        })
        // The same on PostgreSQL for this console's sessions, whatever the server, database
        // or role default says: a commit waits for its WAL to be flushed.
        .map_sqlx_postgres_opts(|o| o.options([("synchronous_commit", "on")]));
    let db = Database::connect(opts).await?;
    match db.get_database_backend() {
        // WAL lets readers and the writer work at the same time; it is a property of the file.
        DbBackend::Sqlite => db.execute_unprepared("PRAGMA journal_mode=WAL").await.map(drop)?,
        DbBackend::Postgres => warn_if_not_durable(&db).await,
        _ => {}
    }
    Ok(db)
}

/// The PostgreSQL settings that decide whether a commit survives a crash, as `db`'s session
/// sees them: `fsync`, `full_page_writes` and `synchronous_commit` with their values, in that
/// order (a setting the server does not have is left out).
pub async fn postgres_durability(db: &impl ConnectionTrait) -> Result<Vec<(String, String)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT name, setting FROM pg_settings \
             WHERE name IN ('fsync', 'full_page_writes', 'synchronous_commit') ORDER BY name",
        ))
        .await?;
    rows.iter().map(|row| Ok((row.try_get("", "name")?, row.try_get("", "setting")?))).collect()
}

/// What the console cannot set for itself on PostgreSQL, said once at start: a server with
/// `fsync=off` flushes nothing, whatever its sessions ask, and one with `full_page_writes=off`
/// can be left with torn pages by a crash; and a connection pooler may drop the session's own
/// `synchronous_commit=on` (PgBouncer's `ignore_startup_parameters`), leaving the server's
/// default. Any of these, and a crash can undo committed changes, spent codes included. A
/// server that cannot say (a PostgreSQL-compatible one without these settings) is not refused.
async fn warn_if_not_durable(db: &DatabaseConnection) {
    for (setting, value) in postgres_durability(db).await.unwrap_or_default() {
        if value == "off" {
            tracing::warn!(
                "PostgreSQL runs this console's sessions with {setting}=off: a crash can undo committed changes, spent codes included"
            );
        }
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The file path of a `sqlite:` URL, if it names a file.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later could otherwise fail
/// with "database is locked" when another writer got in between, instead of waiting its turn.
pub async fn write_txn(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let mode = (db.get_database_backend() == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate);
    db.begin_with_options(TransactionOptions { sqlite_transaction_mode: mode, ..Default::default() }).await
}

/// Rows locked per statement: well under both databases' parameter limits.
const LOCK_CHUNK: usize = 500;

/// Holds the rows of `E` with these primary keys until the transaction ends, so that rules that
/// read them (or count what hangs off them) and then write run one after another instead of
/// both passing a check before either writes. PostgreSQL only (`SELECT … FOR UPDATE`): SQLite's
/// write transactions already run one at a time ([`write_txn`]). Rows are locked in key order,
/// so two callers locking several cannot deadlock.
pub async fn lock_rows<E: EntityTrait>(conn: &impl ConnectionTrait, ids: &[Uuid]) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres || ids.is_empty() {
        return Ok(());
    }
    let Some(key) = E::PrimaryKey::iter().next() else {
        return Err(DbErr::Custom("a table without a primary key cannot be locked by row".into()));
    };
    let column = key.into_column();
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for chunk in sorted.chunks(LOCK_CHUNK) {
        E::find()
            .select_only()
            .column(column)
            .filter(column.is_in(chunk.iter().copied()))
            .order_by_asc(column)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
    }
    Ok(())
}

/// Holds a named lock until the transaction ends (PostgreSQL), for a count that spans rows no
/// one row stands for, such as the messages sent to one endpoint. `key` names what is counted;
/// another key hashing alike only waits.
pub async fn lock_key(conn: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// True for a unique-index violation, on SQLite and PostgreSQL alike: the loser of a race that
/// a check before the insert cannot close (two transactions both see the name free).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_file_paths() {
        assert_eq!(super::sqlite_file("sqlite://./data/h.db?mode=rwc"), Some("./data/h.db"));
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://x/y"), None);
    }
}
