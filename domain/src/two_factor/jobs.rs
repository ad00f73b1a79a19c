//! The durable jobs that hand saved revisions to the agents after the apply delay, and the
//! deadline that fails those the agents never acknowledge.

use crate::{
    ctx::Ctx,
    entities::{
        rollout_job::{self, JobStatus},
        two_factor_config::{self as config, PhaseName},
    },
    error::DomainResult,
    rollout,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Statement,
    TransactionTrait,
};
use uuid::Uuid;

#[derive(Debug, FromQueryResult)]
struct Claimed {
    id: Uuid,
}

/// Runs up to `limit` due jobs as `owner`: each hands its revision to the agent (the server's
/// phase becomes delivering) and is marked done in the same transaction, so it runs once.
/// Jobs are leased first; on PostgreSQL replicas skip rows another is leasing
/// (`FOR UPDATE SKIP LOCKED`). A job whose lease expired (its worker died) is taken again, and
/// finishing it is guarded by its status, so it still counts once. Returns the servers handed over.
pub async fn run_due_jobs(ctx: &Ctx, owner: &str, limit: u64) -> DomainResult<Vec<Uuid>> {
    let now = ctx.clock.now();
    let until = now + chrono::Duration::seconds(60);
    let backend = ctx.db.get_database_backend();
    let claim = match backend {
        // The due jobs are picked once, in a materialised CTE. As `WHERE id IN (SELECT … FOR
        // UPDATE SKIP LOCKED)` PostgreSQL may run the subquery again for each row it joins
        // (a nested-loop plan): each run skips the rows the previous ones locked, so in the
        // benchmark one lease of `limit` 1000 took all 10,000 due jobs, and 4 s doing it.
        DbBackend::Postgres => {
            "WITH due AS MATERIALIZED (
                SELECT id FROM rollout_jobs
                WHERE status = 'pending' AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             UPDATE rollout_jobs SET lease_owner = $1, lease_until = $2 FROM due WHERE rollout_jobs.id = due.id
             RETURNING rollout_jobs.id"
        }
        _ => {
            "UPDATE rollout_jobs SET lease_owner = ?1, lease_until = ?2 WHERE id IN (
                SELECT id FROM rollout_jobs
                WHERE status = 'pending' AND due_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
                ORDER BY due_at LIMIT ?4)
             RETURNING id"
        }
    };
    let stmt =
        Statement::from_sql_and_values(backend, claim, [owner.into(), until.into(), now.into(), (limit as i64).into()]);
    // On PostgreSQL these statements are planned for the table as it is now. The worker runs
    // them every tick, so after five runs PostgreSQL would otherwise keep one generic plan,
    // made while `rollout_jobs` was small (or empty) and kept until the next ANALYZE: with
    // 10,000 jobs due, that plan took 0.8 s per lease of 1000 instead of 10 ms.
    let custom_plans = "SET LOCAL plan_cache_mode = force_custom_plan";
    let claimed: Vec<Claimed> = if backend == DbBackend::Postgres {
        let txn = ctx.db.begin().await?;
        txn.execute_unprepared(custom_plans).await?;
        let claimed = Claimed::find_by_statement(stmt).all(&txn).await?;
        txn.commit().await?;
        claimed
    } else {
        Claimed::find_by_statement(stmt).all(&ctx.db).await?
    };
    if claimed.is_empty() {
        return Ok(vec![]);
    }
    let job_ids: Vec<Uuid> = claimed.iter().map(|c| c.id).collect();
    let txn = crate::db::write_txn(&ctx.db).await?;
    if backend == DbBackend::Postgres {
        txn.execute_unprepared(custom_plans).await?;
    }
    // Finish only jobs still pending and still ours: a save or cancel in between wins.
    rollout_job::Entity::update_many()
        .col_expr(rollout_job::Column::Status, Expr::value(JobStatus::Done))
        .col_expr(rollout_job::Column::Runs, Expr::col(rollout_job::Column::Runs).add(1))
        .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
        .filter(rollout_job::Column::Id.is_in(job_ids.clone()))
        .filter(rollout_job::Column::Status.eq(JobStatus::Pending))
        .filter(rollout_job::Column::LeaseOwner.eq(owner))
        .exec(&txn)
        .await?;
    let ph = |i: usize| if backend == DbBackend::Postgres { format!("${i}") } else { format!("?{i}") };
    let list: Vec<String> = (0..job_ids.len()).map(|i| ph(i + 3)).collect();
    let hand_over = format!(
        "UPDATE two_factor_configs SET phase = 'delivering', phase_at = {p1}, due_at = NULL
         WHERE phase = 'scheduled' AND EXISTS (
            SELECT 1 FROM rollout_jobs j WHERE j.id IN ({list}) AND j.status = 'done' AND j.lease_owner = {p2}
              AND j.server_id = two_factor_configs.server_id AND j.revision = two_factor_configs.revision)
         RETURNING server_id",
        p1 = ph(1),
        p2 = ph(2),
        list = list.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![now.into(), owner.into()];
    values.extend(job_ids.iter().map(|id| (*id).into()));
    let rows = txn.query_all_raw(Statement::from_sql_and_values(backend, hand_over, values)).await?;
    let handed: Vec<Uuid> = rows.iter().filter_map(|r| r.try_get::<Uuid>("", "server_id").ok()).collect();
    txn.commit().await?;
    for id in &handed {
        ctx.agent_signals.wake(*id);
    }
    Ok(handed)
}

/// Fails handed-over revisions whose agents did not acknowledge within the deadline.
pub async fn fail_overdue(ctx: &Ctx) -> DomainResult<u64> {
    let now = ctx.clock.now();
    let deadline = ctx.rollout.ack_deadline;
    let res = config::Entity::update_many()
        .col_expr(config::Column::Phase, Expr::value(PhaseName::Failed))
        .col_expr(config::Column::PhaseAt, Expr::value(now))
        .col_expr(config::Column::FailureReason, Expr::value(rollout::deadline_reason(deadline)))
        .col_expr(config::Column::FailureKind, Expr::value(rollout::FailureKind::Deadline))
        .filter(config::Column::Phase.eq(PhaseName::Delivering))
        .filter(config::Column::PhaseAt.lte(now - deadline))
        .exec(&ctx.db)
        .await?;
    Ok(res.rows_affected)
}

/// Servers handed a revision since `since`, by any replica: their agents' long polls on this
/// replica are woken, since the replica that ran the job could only wake its own.
pub async fn handed_over_since(ctx: &Ctx, since: DateTime<Utc>) -> DomainResult<Vec<Uuid>> {
    Ok(config::Entity::find()
        .select_only()
        .column(config::Column::ServerId)
        .filter(config::Column::Phase.eq(PhaseName::Delivering))
        .filter(config::Column::PhaseAt.gte(since))
        .into_tuple::<Uuid>()
        .all(&ctx.db)
        .await?)
}
