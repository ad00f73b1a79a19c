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
//! When in doubt, deny: a job that fails or panics is answered an error and undone alone (its
//! savepoint rolled back); a batch whose commit fails answers every job in it an error; a job
//! whose caller is gone, or which waited for its batch past [`MAX_WAIT`], is not run.

use crate::{ctx::Ctx, DomainError, DomainResult};
use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr};
use std::{
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, OnceLock,
    },
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot, Notify};

/// Jobs in one batch at most: a batch of this many takes a few tens of milliseconds.
const MAX_BATCH: usize = 256;
/// Jobs waiting for a batch at most; past that a caller is refused as busy.
const QUEUE: usize = 8_192;
/// A job that waited this long for its batch is refused unrun: well inside the agent's 10 s
/// login call, so the agent hears a refusal, not silence.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// Between two batches with callers waiting, SQLite's write lock is left free for a quarter of
/// the time the last batch held it (at most this long), so that the console's other writers,
/// which wait for the lock by polling, are not starved by a steady stream of logins.
const MAX_PAUSE: Duration = Duration::from_millis(5);

/// What a job's work returns: a future borrowing its `Ctx` and transaction.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One caller's write, as its batch sees it.
trait Job: Send {
    /// Runs the work in `txn` (inside a savepoint the batch opened) unless its caller is gone or
    /// waited too long; says whether its writes are to be kept.
    fn run<'a>(&'a mut self, txn: &'a DatabaseTransaction) -> BoxFuture<'a, bool>;
    /// Answers the caller once the batch's end is known (`Err`: nothing of the batch was kept).
    fn answer(self: Box<Self>, batch: Result<(), String>);
}

/// The batches of one `Ctx`'s database. Started on first use, on the runtime of that use, with
/// that `Ctx`'s connection (the `Ctx` holds the one connection; this holds none until then).
#[derive(Default)]
pub struct GroupCommit {
    queue: OnceLock<mpsc::Sender<Box<dyn Job>>>,
    /// Batches begun so far (each one transaction, committed or not).
    batches: Arc<AtomicU64>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn queue(&self, db: &DatabaseConnection) -> &mpsc::Sender<Box<dyn Job>> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(db.clone(), rx, self.batches.clone()));
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
/// transaction to work in. It must write only through that transaction: on SQLite a write on
/// `ctx.db` would wait for the write lock its own batch holds.
pub async fn write<T, F>(ctx: &Ctx, work: F) -> DomainResult<T>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a Ctx, &'a DatabaseTransaction) -> BoxFuture<'a, DomainResult<T>> + Send + 'static,
{
    write_since(ctx, Instant::now(), work).await
}

/// [`write`] for a caller that began its work at `since` (reads before the write): on SQLite
/// the job is refused unrun once [`MAX_WAIT`] has passed since then, not since it was queued,
/// so the whole answer stays inside the agent's call.
pub async fn write_since<T, F>(ctx: &Ctx, since: Instant, work: F) -> DomainResult<T>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a Ctx, &'a DatabaseTransaction) -> BoxFuture<'a, DomainResult<T>> + Send + 'static,
{
    let deferred = Arc::new(Notify::new());
    let job_ctx = Ctx { outbox_signal: deferred.clone(), ..ctx.clone() };
    if ctx.db.get_database_backend() == DbBackend::Sqlite {
        let (tx, rx) = oneshot::channel();
        let job = Pending {
            work: Some(work),
            ctx: job_ctx,
            deferred,
            outbox: ctx.outbox_signal.clone(),
            queued_at: since,
            result: None,
            tx,
        };
        ctx.commits.queue(&ctx.db).try_send(Box::new(job)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                DomainError::Busy("Too many logins are being answered; try again.".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                tracing::error!("the batches of login writes have stopped");
                DomainError::Internal("the batches of login writes have stopped".into())
            }
        })?;
        // The batch ended without answering (a panic outside the jobs, or the runtime going
        // away): refused.
        return rx.await.unwrap_or_else(|_| Err(DomainError::Internal("the login's batch did not complete".into())));
    }
    let txn = crate::db::write_txn(&ctx.db).await?;
    let value = work(&job_ctx, &txn).await?;
    txn.commit().await?;
    if woken(&deferred) {
        ctx.outbox_signal.notify_one();
    }
    Ok(value)
}

/// Whether the work asked for the outbox's sender to be woken (taking that wish).
fn woken(deferred: &Notify) -> bool {
    std::pin::pin!(deferred.notified()).as_mut().enable()
}

struct Pending<T, F> {
    work: Option<F>,
    ctx: Ctx,
    deferred: Arc<Notify>,
    outbox: Arc<Notify>,
    queued_at: Instant,
    result: Option<DomainResult<T>>,
    tx: oneshot::Sender<DomainResult<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a Ctx, &'a DatabaseTransaction) -> BoxFuture<'a, DomainResult<T>> + Send + 'static,
{
    fn run<'a>(&'a mut self, txn: &'a DatabaseTransaction) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Some(work) = self.work.take() else { return false };
            if self.tx.is_closed() {
                // The caller is gone (its request dropped): nothing to spend on its behalf.
                self.result = Some(Err(DomainError::Internal("the caller went away".into())));
                return false;
            }
            if self.queued_at.elapsed() > MAX_WAIT {
                self.result = Some(Err(DomainError::Busy("The logins waited too long; try again.".into())));
                return false;
            }
            let result = match AssertUnwindSafe(work(&self.ctx, txn)).catch_unwind().await {
                Ok(result) => result,
                Err(_) => {
                    // A bug in one login: that login is refused and undone, the batch goes on.
                    tracing::error!("a login write panicked");
                    Err(DomainError::Internal("the login's write failed".into()))
                }
            };
            let keep = result.is_ok();
            self.result = Some(result);
            keep
        })
    }

    fn answer(self: Box<Self>, batch: Result<(), String>) {
        let result = match (self.result, batch) {
            (Some(Ok(value)), Ok(())) => {
                if woken(&self.deferred) {
                    self.outbox.notify_one();
                }
                Ok(value)
            }
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Err(e)) => Err(DomainError::Internal(format!("the batch's commit failed: {e}"))),
            (None, Err(e)) => Err(DomainError::Busy(e)),
            (None, Ok(())) => Err(DomainError::Internal("the login's write did not run".into())),
        };
        let _ = self.tx.send(result);
    }
}

async fn run(db: DatabaseConnection, mut queue: mpsc::Receiver<Box<dyn Job>>, batches: Arc<AtomicU64>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        batches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        // Its own task, so that a panic outside the jobs ends this batch only (its callers are
        // refused: their senders are dropped) and the next batch starts afresh.
        if let Err(e) = tokio::spawn(batch(db.clone(), jobs)).await {
            tracing::error!(error = %e, "a batch of login writes failed");
        }
        if !queue.is_empty() {
            tokio::time::sleep((started.elapsed() / 4).min(MAX_PAUSE)).await;
        }
    }
}

/// One write transaction for `jobs`, each in a savepoint of its own; then every job answered.
/// The savepoints are plain SQL on the batch's transaction, so its end is always a real
/// `COMMIT` or `ROLLBACK`; if one cannot be released or rolled back, nothing of the batch is kept.
/// A job's end and the next job's savepoint go to SQLite as one call, and a job alone needs no
/// savepoint (its transaction is its own): each call is a round trip to sqlx's worker thread,
/// and the batch makes them one after another.
async fn batch(db: DatabaseConnection, mut jobs: Vec<Box<dyn Job>>) {
    let started = Instant::now();
    let txn = match crate::db::write_txn(&db).await {
        Ok(txn) => txn,
        Err(e) => {
            tracing::warn!(error = %e, "a batch of login writes could not begin");
            let why = DomainError::from(e).to_string();
            for job in jobs {
                job.answer(Err(why.clone()));
            }
            return;
        }
    };
    let count = jobs.len();
    let alone = count == 1;
    // What to send before the next job runs (and, after the last one, before the commit).
    let mut pending = (!alone).then_some("SAVEPOINT login");
    let mut broken = None;
    let mut undo_alone = false;
    for (i, job) in jobs.iter_mut().enumerate() {
        if let Some(sql) = pending.take() {
            if let Err(e) = txn.execute_unprepared(sql).await {
                broken = Some(e);
                break;
            }
        }
        let keep = job.run(&txn).await;
        if alone {
            undo_alone = !keep;
            break;
        }
        let last = i + 1 == count;
        // The last job's savepoint needs no release: the commit ends it.
        pending = match (keep, last) {
            (true, false) => Some("RELEASE login; SAVEPOINT login"),
            (false, false) => Some("ROLLBACK TO login; RELEASE login; SAVEPOINT login"),
            (true, true) => None,
            (false, true) => Some("ROLLBACK TO login"),
        };
    }
    if broken.is_none() {
        if let Some(sql) = pending {
            broken = txn.execute_unprepared(sql).await.err();
        }
    }
    let executed = started.elapsed();
    let end = match broken {
        Some(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
        // The job's own answer says why; there is nothing to keep.
        None if undo_alone => txn.rollback().await,
        None => txn.commit().await,
    };
    tracing::trace!(
        jobs = count,
        executed_us = executed.as_micros() as u64,
        ended_us = started.elapsed().as_micros() as u64,
        "a batch of login writes"
    );
    let end = end.map_err(|e: DbErr| {
        tracing::warn!(error = %e, "a batch of login writes was not committed");
        e.to_string()
    });
    for job in jobs {
        job.answer(end.clone());
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
        let ctx = Ctx::for_tests(db, Arc::new(ManualClock::new(chrono::Utc::now())));
        (ctx, url)
    }

    async fn insert(txn: &DatabaseTransaction, n: i64) -> DomainResult<()> {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO written (n) VALUES (?)",
            [n.into()],
        ))
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

    /// `write(work)` on a task of its own.
    fn spawn_write<T, F>(ctx: &Ctx, work: F) -> tokio::task::JoinHandle<DomainResult<T>>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Ctx, &'a DatabaseTransaction) -> BoxFuture<'a, DomainResult<T>> + Send + 'static,
    {
        let ctx = ctx.clone();
        tokio::spawn(async move { write(&ctx, work).await })
    }

    /// A write of `n` to `written`, on a task of its own.
    fn spawn_insert(ctx: &Ctx, n: i64) -> tokio::task::JoinHandle<DomainResult<()>> {
        spawn_write(ctx, move |_, txn| Box::pin(insert(txn, n)))
    }

    /// Holds SQLite's write lock from another connection, so that the writes sent meanwhile
    /// wait in one batch; released by committing.
    async fn hold_write_lock(url: &str) -> (DatabaseConnection, DatabaseTransaction) {
        let other = crate::db::connect(url).await.unwrap();
        let txn = crate::db::write_txn(&other).await.unwrap();
        (other, txn)
    }

    /// SQLite's write lock held from another connection (released by committing `lock`), and a
    /// first write (of 1) waiting for it in a batch of its own: the writes sent next queue
    /// behind it and share the second batch.
    struct Held {
        ctx: Ctx,
        _other: DatabaseConnection,
        lock: DatabaseTransaction,
        first: tokio::task::JoinHandle<DomainResult<()>>,
    }

    async fn first_batch_held() -> Held {
        let (ctx, url) = ctx().await;
        let (_other, lock) = hold_write_lock(&url).await;
        let first = spawn_insert(&ctx, 1);
        until_first_batch(&ctx).await;
        Held { ctx, _other, lock, first }
    }

    /// Until the first batch has begun (and waits for the lock) with nothing queued behind it.
    async fn until_first_batch(ctx: &Ctx) {
        for _ in 0..500 {
            if ctx.commits.batches() == 1 && ctx.commits.waiting() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the first batch did not begin");
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
            if n == 0 {
                // The first batch waits for the lock with one write; the other 199 queue behind it.
                until_first_batch(&ctx).await;
            }
        }
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
        let Held { ctx, _other, lock, first } = first_batch_held().await;
        let refused = spawn_refused(&ctx, 2);
        let third = spawn_insert(&ctx, 3);
        until_waiting(&ctx, 2).await;
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        assert!(matches!(refused.await.unwrap(), Err(DomainError::Conflict(_))));
        third.await.unwrap().unwrap();
        assert_eq!(written(&ctx).await, [1, 3]);
    }

    /// A write of `n` that then fails, on a task of its own.
    fn spawn_refused(ctx: &Ctx, n: i64) -> tokio::task::JoinHandle<DomainResult<()>> {
        spawn_write(ctx, move |_, txn| {
            Box::pin(async move {
                insert(txn, n).await?;
                Err::<(), _>(DomainError::Conflict("refused after writing".into()))
            })
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_last_write_of_a_batch_and_a_failed_write_alone_are_undone() {
        // The last of a batch: rolled back to its savepoint, with no next savepoint after it.
        let Held { ctx, _other, lock, first } = first_batch_held().await;
        let second = spawn_insert(&ctx, 2);
        let refused = spawn_refused(&ctx, 3);
        until_waiting(&ctx, 2).await;
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert!(matches!(refused.await.unwrap(), Err(DomainError::Conflict(_))));
        assert_eq!(written(&ctx).await, [1, 2]);
        // Alone in its batch (no savepoint): its transaction is rolled back.
        let batches = ctx.commits.batches();
        assert!(matches!(spawn_refused(&ctx, 4).await.unwrap(), Err(DomainError::Conflict(_))));
        assert_eq!(ctx.commits.batches(), batches + 1);
        assert_eq!(written(&ctx).await, [1, 2]);
        // And the next write, alone too, lands.
        spawn_insert(&ctx, 5).await.unwrap().unwrap();
        assert_eq!(written(&ctx).await, [1, 2, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_commit_fails_answers_every_write_in_it_an_error() {
        let Held { ctx, _other, lock, first } = first_batch_held().await;
        // A deferred foreign key passes its statement and its savepoint, and fails the commit.
        let orphan = spawn_write(&ctx, |_, txn| {
            Box::pin(async move {
                txn.execute_unprepared("INSERT INTO child (p) VALUES (99)").await?;
                Ok(())
            })
        });
        let neighbour = spawn_insert(&ctx, 2);
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
    async fn a_panic_is_refused_and_undone_alone() {
        let Held { ctx, _other, lock, first } = first_batch_held().await;
        let panics = spawn_write(&ctx, |_, txn| {
            Box::pin(async move {
                insert(txn, 2).await?;
                panic!("a bug in a write")
            })
        });
        let neighbour = spawn_insert(&ctx, 3);
        until_waiting(&ctx, 2).await;
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        let panicked: DomainResult<()> = panics.await.unwrap();
        assert!(matches!(panicked, Err(DomainError::Internal(_))));
        neighbour.await.unwrap().unwrap();
        write(&ctx, |_, txn| Box::pin(insert(txn, 4))).await.unwrap();
        assert_eq!(written(&ctx).await, [1, 3, 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_caller_went_away_is_not_run() {
        let Held { ctx, _other, lock, first } = first_batch_held().await;
        let gone = spawn_insert(&ctx, 2);
        until_waiting(&ctx, 1).await;
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        lock.commit().await.unwrap();
        first.await.unwrap().unwrap();
        write(&ctx, |_, txn| Box::pin(insert(txn, 3))).await.unwrap();
        assert_eq!(written(&ctx).await, [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_waited_too_long_for_its_batch_is_refused_unrun() {
        let Held { ctx, _other, lock, first } = first_batch_held().await;
        let late = spawn_insert(&ctx, 2);
        until_waiting(&ctx, 1).await;
        // SQLite's lock wait (5 s) ends the first batch as busy; the second write has waited
        // longer than MAX_WAIT by the time its batch begins.
        tokio::time::sleep(MAX_WAIT + Duration::from_millis(500)).await;
        lock.commit().await.unwrap();
        assert!(matches!(first.await.unwrap(), Err(DomainError::Busy(_))));
        assert!(matches!(late.await.unwrap(), Err(DomainError::Busy(_))));
        assert!(written(&ctx).await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_caller_began_too_long_ago_is_refused_unrun() {
        let (ctx, _) = ctx().await;
        let Some(long_ago) = Instant::now().checked_sub(MAX_WAIT + Duration::from_millis(100)) else { return };
        let late = write_since(&ctx, long_ago, |_, txn| Box::pin(insert(txn, 1))).await;
        assert!(matches!(late, Err(DomainError::Busy(_))), "{late:?}");
        write_since(&ctx, Instant::now(), |_, txn| Box::pin(insert(txn, 2))).await.unwrap();
        assert_eq!(written(&ctx).await, vec![2]);
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
