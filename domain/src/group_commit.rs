//! Group commit for the login path's writes on SQLite: the answers that arrive while one batch
//! commits are run one after another in the next single write transaction (each in its own
//! savepoint) and committed together, with one fsync; every caller is answered only after that
//! commit. A code is therefore spent on disk before its "allowed" leaves, as with a transaction
//! of its own, but a thousand verifies cost a handful of fsyncs instead of a thousand, and they
//! no longer poll for SQLite's write lock one by one.
//!
//! PostgreSQL runs each job in a transaction of its own: its writers run in parallel, and its WAL
//! flush already carries every commit that is waiting for it (PostgreSQL's own group commit).
//!
//! When in doubt, deny: a job whose savepoint fails is answered its error and undone alone; a
//! batch whose commit fails answers every job in it an error; a panic in a job answers its whole
//! batch an error, and the next batch starts afresh.

use crate::{ctx::Ctx, DomainError, DomainResult};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};
use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, OnceLock,
    },
};
use tokio::sync::{mpsc, oneshot, Notify};

/// Jobs in one batch at most: a batch of this many takes a few tens of milliseconds.
const MAX_BATCH: usize = 256;
/// Jobs waiting for a batch at most; past that a caller is refused as busy.
const QUEUE: usize = 8_192;

/// What a job's work returns: a future borrowing its `Ctx` and transaction.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A job run in its savepoint (or told why it could not run); what it gives back answers its
/// caller once the batch's commit is known (`Err`: the commit failed).
type Job = Box<dyn FnOnce(Result<DatabaseTransaction, String>) -> BoxFuture<'static, Answer> + Send>;
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The batches of one database. Started on first use, on the runtime of that use.
pub struct GroupCommit {
    db: DatabaseConnection,
    queue: OnceLock<mpsc::Sender<Job>>,
    /// Batches begun so far (each one transaction, committed or not).
    batches: Arc<AtomicU64>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self { db, queue: OnceLock::new(), batches: Default::default() })
    }

    fn queue(&self) -> &mpsc::Sender<Job> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(self.db.clone(), rx, self.batches.clone()));
            tx
        })
    }

    /// Batches begun so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a batch.
    pub fn waiting(&self) -> usize {
        self.queue.get().map_or(0, |q| q.max_capacity() - q.capacity())
    }
}

/// Runs `work` in a write transaction and answers once it is committed: batched with others on
/// SQLite, alone on PostgreSQL. `work` gets a `Ctx` whose outbox signal fires only after the
/// commit (a message enqueued in a batch is not visible to the sender before it), and the
/// transaction to work in.
pub async fn write<T, F>(ctx: &Ctx, work: F) -> DomainResult<T>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a Ctx, &'a DatabaseTransaction) -> BoxFuture<'a, DomainResult<T>> + Send + 'static,
{
    let deferred = Arc::new(Notify::new());
    let job_ctx = Ctx { outbox_signal: deferred.clone(), ..ctx.clone() };
    let result = if ctx.db.get_database_backend() == DbBackend::Sqlite {
        batched(ctx, job_ctx, work).await
    } else {
        let txn = crate::db::write_txn(&ctx.db).await?;
        let value = work(&job_ctx, &txn).await?;
        txn.commit().await?;
        Ok(value)
    };
    if result.is_ok() && std::pin::pin!(deferred.notified()).as_mut().enable() {
        ctx.outbox_signal.notify_one();
    }
    result
}

async fn batched<T, F>(ctx: &Ctx, job_ctx: Ctx, work: F) -> DomainResult<T>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a Ctx, &'a DatabaseTransaction) -> BoxFuture<'a, DomainResult<T>> + Send + 'static,
{
    let (tx, rx) = oneshot::channel::<DomainResult<T>>();
    let job: Job = Box::new(move |savepoint| {
        Box::pin(async move {
            let result = match savepoint {
                Ok(savepoint) => match work(&job_ctx, &savepoint).await {
                    Ok(value) => savepoint.commit().await.map(|()| value).map_err(DomainError::from),
                    Err(e) => {
                        // This job's writes are undone alone; the batch goes on.
                        let _ = savepoint.rollback().await;
                        Err(e)
                    }
                },
                Err(why) => Err(DomainError::Busy(why)),
            };
            Box::new(move |committed: Result<(), String>| {
                let _ = tx.send(match committed {
                    Ok(()) => result,
                    Err(e) => result.and(Err(DomainError::Internal(format!("the batch's commit failed: {e}")))),
                });
            }) as Answer
        })
    });
    let queue = ctx.commits.queue();
    queue.try_send(job).map_err(|_| DomainError::Busy("Too many logins are being answered; try again.".into()))?;
    // The batch ended without answering (a panic in it, or the runtime going away): refused.
    rx.await.unwrap_or_else(|_| Err(DomainError::Internal("the login's batch did not complete".into())))
}

async fn run(db: DatabaseConnection, mut queue: mpsc::Receiver<Job>, batches: Arc<AtomicU64>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        batches.fetch_add(1, Ordering::Relaxed);
        // Its own task, so a panic in a job ends this batch only: the jobs' senders are dropped
        // and their callers refused.
        if let Err(e) = tokio::spawn(batch(db.clone(), jobs)).await {
            tracing::error!(error = %e, "a batch of login writes failed");
        }
    }
}

async fn batch(db: DatabaseConnection, jobs: Vec<Job>) {
    let txn = match crate::db::write_txn(&db).await {
        Ok(txn) => txn,
        Err(e) => {
            // Every job is refused, none of them run.
            tracing::warn!(error = %e, "a batch of login writes could not begin");
            let why = DomainError::from(e).to_string();
            for job in jobs {
                job(Err(why.clone())).await(Ok(()));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        let savepoint = txn.begin().await.map_err(|e| DomainError::from(e).to_string());
        answers.push(job(savepoint).await);
    }
    let committed = txn.commit().await.map_err(|e: DbErr| {
        tracing::warn!(error = %e, "a batch of login writes could not commit");
        e.to_string()
    });
    for answer in answers {
        answer(committed.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use sea_orm::{ConnectionTrait, Statement};
    use std::time::Duration;

    async fn ctx() -> (Ctx, String) {
        let path = std::env::temp_dir().join(format!("hg-group-commit-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = crate::db::connect(&url).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE written (n INTEGER NOT NULL);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER NOT NULL REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .await
        .unwrap();
        let ctx = Ctx {
            commits: GroupCommit::new(db.clone()),
            db,
            clock: Arc::new(ManualClock::new(chrono::Utc::now())),
            lockout: Default::default(),
            sessions: Default::default(),
            public_url: "http://localhost".into(),
            outbox_signal: Default::default(),
            rollout: Default::default(),
            secret_key: None,
            agent_signals: Arc::new(crate::agents::NoWakeups),
            password_checks: crate::ctx::password_check_slots(),
            vapid_public_key: None,
            webpush_allow_loopback: false,
        };
        (ctx, url)
    }

    async fn insert(txn: &DatabaseTransaction, n: i64) -> DomainResult<()> {
        txn.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, "INSERT INTO written (n) VALUES (?)", [n.into()]))
            .await?;
        Ok(())
    }

    async fn written(ctx: &Ctx) -> Vec<i64> {
        let rows = ctx
            .db
            .query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT n FROM written ORDER BY n"))
            .await
            .unwrap();
        rows.iter().map(|r| r.try_get::<i64>("", "n").unwrap()).collect()
    }

    /// Holds SQLite's write lock from another connection, so that the writes sent meanwhile
    /// wait in one batch; released by committing.
    async fn hold_write_lock(url: &str) -> (DatabaseConnection, DatabaseTransaction) {
        let other = crate::db::connect(url).await.unwrap();
        let txn = crate::db::write_txn(&other).await.unwrap();
        (other, txn)
    }

    async fn until_waiting(ctx: &Ctx, n: usize) {
        for _ in 0..500 {
            if ctx.commits.waiting() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} writes waiting, not {n}", ctx.commits.waiting());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_sent_together_share_one_commit_and_all_land() {
        let (ctx, url) = ctx().await;
        let (_other, lock) = hold_write_lock(&url).await;
        let mut calls = Vec::new();
        for n in 0..200 {
            let ctx2 = ctx.clone();
            calls.push(tokio::spawn(async move {
                write(&ctx2, move |_, txn| Box::pin(async move { insert(txn, n).await.map(|()| n) })).await
            }));
        }
        // The first batch waits for the lock with one write; the other 199 queue behind it.
        until_waiting(&ctx, 199).await;
        assert!(written(&ctx).await.is_empty(), "nothing is visible before its commit");
        lock.commit().await.unwrap();
        for (n, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), n as i64);
        }
        assert_eq!(written(&ctx).await, (0..200).collect::<Vec<_>>());
        assert_eq!(ctx.commits.batches(), 2, "one commit for the first write, one for the other 199");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_undone_alone_and_its_neighbours_land() {
        let (ctx, url) = ctx().await;
        let (_other, lock) = hold_write_lock(&url).await;
        let first = tokio::spawn({
            let ctx = ctx.clone();
            async move { write(&ctx, |_, txn| Box::pin(insert(txn, 1))).await }
        });
        until_waiting(&ctx, 0).await;
        let refused = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                write(&ctx, |_, txn| {
                    Box::pin(async move {
                        insert(txn, 2).await?;
                        Err::<(), _>(DomainError::Conflict("refused after writing".into()))
                    })
                })
                .await
            }
        });
        let third = tokio::spawn({
            let ctx = ctx.clone();
            async move { write(&ctx, |_, txn| Box::pin(insert(txn, 3))).await }
        });
        until_waiting(&ctx, 2).await;
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        assert!(matches!(refused.await.unwrap(), Err(DomainError::Conflict(_))));
        third.await.unwrap().unwrap();
        assert_eq!(written(&ctx).await, [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_commit_fails_answers_every_write_in_it_an_error() {
        let (ctx, url) = ctx().await;
        let (_other, lock) = hold_write_lock(&url).await;
        let first = tokio::spawn({
            let ctx = ctx.clone();
            async move { write(&ctx, |_, txn| Box::pin(insert(txn, 1))).await }
        });
        until_waiting(&ctx, 0).await;
        // A deferred foreign key passes its statement and its savepoint, and fails the commit.
        let orphan = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                write(&ctx, |_, txn| {
                    Box::pin(async move {
                        txn.execute_unprepared("INSERT INTO child (p) VALUES (99)").await?;
                        Ok(())
                    })
                })
                .await
            }
        });
        let neighbour = tokio::spawn({
            let ctx = ctx.clone();
            async move { write(&ctx, |_, txn| Box::pin(insert(txn, 2))).await }
        });
        until_waiting(&ctx, 2).await;
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        assert!(orphan.await.unwrap().is_err());
        assert!(neighbour.await.unwrap().is_err(), "answered only after a commit that failed: refused");
        assert_eq!(written(&ctx).await, [1]);
        // The next batch starts afresh.
        write(&ctx, |_, txn| Box::pin(insert(txn, 3))).await.unwrap();
        assert_eq!(written(&ctx).await, [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_refuses_its_batch_and_the_next_batch_runs() {
        let (ctx, url) = ctx().await;
        let (_other, lock) = hold_write_lock(&url).await;
        let first = tokio::spawn({
            let ctx = ctx.clone();
            async move { write(&ctx, |_, txn| Box::pin(insert(txn, 1))).await }
        });
        until_waiting(&ctx, 0).await;
        let panics = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                write(&ctx, |_, txn| {
                    Box::pin(async move {
                        insert(txn, 2).await?;
                        panic!("a bug in a write")
                    })
                })
                .await
            }
        });
        let neighbour = tokio::spawn({
            let ctx = ctx.clone();
            async move { write(&ctx, |_, txn| Box::pin(insert(txn, 3))).await }
        });
        until_waiting(&ctx, 2).await;
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        let panicked: DomainResult<()> = panics.await.unwrap();
        assert!(matches!(panicked, Err(DomainError::Internal(_))));
        assert!(matches!(neighbour.await.unwrap(), Err(DomainError::Internal(_))));
        write(&ctx, |_, txn| Box::pin(insert(txn, 4))).await.unwrap();
        assert_eq!(written(&ctx).await, [1, 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_outbox_is_woken_after_the_commit_and_not_for_an_undone_write() {
        let (ctx, _) = ctx().await;
        let real = ctx.outbox_signal.clone();
        let has_permit = |n: &Notify| std::pin::pin!(n.notified()).as_mut().enable();
        let woke_early = write(&ctx, move |ctx, txn| {
            Box::pin(async move {
                insert(txn, 1).await?;
                ctx.outbox_signal.notify_one();
                Ok(has_permit(&real))
            })
        })
        .await
        .unwrap();
        assert!(!woke_early, "the sender was woken before the message was committed");
        assert!(has_permit(&ctx.outbox_signal), "the sender was not woken after the commit");
        let undone = write(&ctx, |ctx, _| {
            Box::pin(async move {
                ctx.outbox_signal.notify_one();
                Err::<(), _>(DomainError::Conflict("undone".into()))
            })
        })
        .await;
        assert!(undone.is_err());
        assert!(!has_permit(&ctx.outbox_signal), "woken for a message that was undone");
    }
}
