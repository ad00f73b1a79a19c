//! The Two-Factor Authentication tab's rules: listing servers with their 2FA status, and saving
//! Enable / Disable / Change Topic as new revisions with durable jobs that hand them to the
//! agents after the apply delay. The per-server rules are `rollout`'s; this module loads and
//! stores them, in batches.

use crate::{
    audit::{self, Actor, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{rollout_job, server, subscription, topic, two_factor_config as config},
    error::{DomainError, DomainResult, FieldError},
    rollout::{self, Method, Phase, Revision, ServerRollout, Status, Target},
    search,
    servers::{Page, REGIONS},
};
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, Statement, TransactionTrait,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The most servers one save may change (the console's batch, or the API's `host_id_list`).
pub const MAX_BATCH: usize = 10_000;
/// Rows per statement when writing batches: well under both databases' parameter limits.
const CHUNK: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Enable { method: Method, topic_id: Option<Uuid> },
    Disable,
    ChangeTopic { topic_id: Uuid },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub server_id: Uuid,
    pub revision: i64,
}

/// A server a save left alone, and why (each reason names the rule, the server and the fix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub server_id: Uuid,
    pub server_name: String,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveOutcome {
    pub saved: Vec<Saved>,
    pub refused: Vec<Refused>,
    /// When the saved changes are applied.
    pub due_at: Option<DateTime<Utc>>,
}

// ---- loading and storing one server's rollout ----

fn phase_of(c: &config::Model) -> Phase {
    let at = c.phase_at.unwrap_or(c.updated_at);
    match c.phase.as_str() {
        "scheduled" => Phase::Scheduled { due_at: c.due_at.unwrap_or(at) },
        "delivering" => Phase::Delivering { since: at },
        "failed" => Phase::Failed { at, reason: c.failure_reason.clone().unwrap_or_default() },
        "canceled" => Phase::Canceled { at },
        _ => Phase::Applied { at },
    }
}

/// The rollout a stored configuration describes.
pub fn rollout_of(c: &config::Model) -> ServerRollout {
    let applied = (c.applied_revision > 0).then(|| {
        (
            c.applied_revision,
            Target {
                enabled: c.applied_enabled,
                method: c.applied_method.as_deref().and_then(Method::parse).unwrap_or(Method::Code),
                topic_id: c.applied_topic_id,
            },
        )
    });
    let latest = (c.revision > 0).then(|| Revision {
        number: c.revision,
        target: Target {
            enabled: c.enabled,
            method: Method::parse(&c.method).unwrap_or(Method::Code),
            topic_id: c.topic_id,
        },
        phase: phase_of(c),
    });
    ServerRollout { applied, latest }
}

/// The row that stores `r` for a server.
fn stored(server_id: Uuid, tenant_id: Uuid, r: &ServerRollout, now: DateTime<Utc>) -> config::ActiveModel {
    let latest = r.latest.as_ref();
    let target =
        latest.map(|l| l.target.clone()).unwrap_or(Target { enabled: false, method: Method::Code, topic_id: None });
    let (phase, due_at, phase_at, reason) = match latest.map(|l| &l.phase) {
        Some(Phase::Scheduled { due_at }) => ("scheduled", Some(*due_at), Some(now), None),
        Some(Phase::Delivering { since }) => ("delivering", None, Some(*since), None),
        Some(Phase::Applied { at }) => ("applied", None, Some(*at), None),
        None => ("applied", None, Some(now), None),
        Some(Phase::Failed { at, reason }) => ("failed", None, Some(*at), Some(reason.clone())),
        Some(Phase::Canceled { at }) => ("canceled", None, Some(*at), None),
    };
    let applied = r.applied.as_ref();
    config::ActiveModel {
        server_id: Set(server_id),
        tenant_id: Set(tenant_id),
        enabled: Set(target.enabled),
        method: Set(target.method.as_str().to_owned()),
        topic_id: Set(target.topic_id),
        updated_at: Set(now),
        revision: Set(latest.map_or(0, |l| l.number)),
        phase: Set(phase.to_owned()),
        due_at: Set(due_at),
        phase_at: Set(phase_at),
        failure_reason: Set(reason),
        applied_revision: Set(applied.map_or(0, |(n, _)| *n)),
        applied_enabled: Set(applied.is_some_and(|(_, t)| t.enabled)),
        applied_method: Set(applied.map(|(_, t)| t.method.as_str().to_owned())),
        applied_topic_id: Set(applied.and_then(|(_, t)| t.topic_id)),
    }
}

/// Stores one server's rollout.
pub async fn store<C: ConnectionTrait>(
    conn: &C,
    server_id: Uuid,
    tenant_id: Uuid,
    r: &ServerRollout,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    upsert(conn, vec![stored(server_id, tenant_id, r, now)]).await
}

async fn upsert<C: ConnectionTrait>(conn: &C, rows: Vec<config::ActiveModel>) -> DomainResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    config::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(config::Column::ServerId)
                .update_columns([
                    config::Column::Enabled,
                    config::Column::Method,
                    config::Column::TopicId,
                    config::Column::UpdatedAt,
                    config::Column::Revision,
                    config::Column::Phase,
                    config::Column::DueAt,
                    config::Column::PhaseAt,
                    config::Column::FailureReason,
                    config::Column::AppliedRevision,
                    config::Column::AppliedEnabled,
                    config::Column::AppliedMethod,
                    config::Column::AppliedTopicId,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

async fn load_servers<C: ConnectionTrait>(conn: &C, tenant_id: Uuid, ids: &[Uuid]) -> DomainResult<Vec<server::Model>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            server::Entity::find()
                .filter(server::Column::TenantId.eq(tenant_id))
                .filter(server::Column::Id.is_in(chunk.iter().copied()))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// Locks the servers' rows until the transaction ends, so that saves, cancels, retries and
/// acknowledgements of one server run one after another: each reads the stored rollout and
/// writes it back whole, and two at once would drop one's revision. Rows are locked in id order,
/// so two batches cannot deadlock. SQLite needs nothing: its write transactions already run
/// one at a time (`db::write_txn`).
pub async fn lock_servers<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> DomainResult<()> {
    if conn.get_database_backend() != DbBackend::Postgres || ids.is_empty() {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    for chunk in sorted.chunks(CHUNK) {
        server::Entity::find()
            .select_only()
            .column(server::Column::Id)
            .filter(server::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(server::Column::Id)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
    }
    Ok(())
}

async fn load_configs<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> DomainResult<HashMap<Uuid, config::Model>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        for c in config::Entity::find().filter(config::Column::ServerId.is_in(chunk.iter().copied())).all(conn).await? {
            out.insert(c.server_id, c);
        }
    }
    Ok(out)
}

/// The tenant's servers named by `ids`, in that order, deduplicated. Ids that are not the
/// tenant's are reported as unknown, so another tenant's servers are never even named.
async fn tenant_servers(ctx: &Ctx, tenant_id: Uuid, ids: &[Uuid]) -> DomainResult<Vec<server::Model>> {
    if ids.is_empty() {
        return Err(DomainError::validation("server_ids", "select at least one server"));
    }
    let mut seen = HashSet::new();
    let ids: Vec<Uuid> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if ids.len() > MAX_BATCH {
        return Err(DomainError::validation("server_ids", format!("at most {MAX_BATCH} servers at once")));
    }
    let found = load_servers(&ctx.db, tenant_id, &ids).await?;
    let mut by_id: HashMap<Uuid, server::Model> = found.into_iter().map(|s| (s.id, s)).collect();
    let missing: Vec<String> = ids.iter().filter(|id| !by_id.contains_key(id)).map(Uuid::to_string).collect();
    if !missing.is_empty() {
        let shown = missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        return Err(DomainError::validation("server_ids", format!("no such server: {shown}{more}")));
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// A topic of the tenant that can carry login codes: it has at least one confirmed subscription.
pub async fn usable_topic(ctx: &Ctx, tenant_id: Uuid, topic_id: Uuid) -> DomainResult<topic::Model> {
    let t = topic::Entity::find_by_id(topic_id)
        .filter(topic::Column::TenantId.eq(tenant_id))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| DomainError::validation("topic", "no such topic"))?;
    let confirmed = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(t.id))
        .filter(subscription::Column::Status.eq("confirmed"))
        .count(&ctx.db)
        .await?;
    if confirmed == 0 {
        return Err(DomainError::validation(
            "topic",
            format!(
                "topic {} has no confirmed subscription, so nobody would receive the codes; confirm one first",
                t.name
            ),
        ));
    }
    Ok(t)
}

/// Topics that can carry login codes (at least one confirmed subscription), for the dialog.
pub async fn usable_topics(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<topic::Model>> {
    let tenant_id = caller.admin_tenant()?;
    let confirmed: HashSet<Uuid> = subscription::Entity::find()
        .select_only()
        .column(subscription::Column::TopicId)
        .filter(subscription::Column::Status.eq("confirmed"))
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .into_tuple::<Uuid>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    Ok(topic::Entity::find()
        .filter(topic::Column::TenantId.eq(tenant_id))
        .order_by_asc(topic::Column::Name)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter(|t| confirmed.contains(&t.id))
        .collect())
}

// ---- saving ----

/// Saves Enable / Disable / Change Topic for the caller's servers: each server that may take
/// the change gets a new revision and a job due after the apply delay; a newer revision
/// supersedes a pending one. Servers that may not are refused with the reasons, and the others
/// still proceed. Bad input (no servers, unknown ids, an unusable topic) changes nothing.
pub async fn save(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    server_ids: &[Uuid],
    action: Action,
) -> DomainResult<SaveOutcome> {
    let tenant_id = caller.admin_tenant()?;
    let mut errors = vec![];
    let servers = match tenant_servers(ctx, tenant_id, server_ids).await {
        Ok(s) => s,
        Err(DomainError::Validation { field, message }) => {
            errors.push(FieldError { field, message });
            vec![]
        }
        Err(e) => return Err(e),
    };
    let topic = match &action {
        Action::Enable { method: Method::Sms, topic_id: None } => {
            errors.push(FieldError::new("topic", "SMS/Email needs a topic whose subscribers receive the codes"));
            None
        }
        Action::Enable { method: Method::Sms, topic_id: Some(id) } | Action::ChangeTopic { topic_id: id } => {
            match usable_topic(ctx, tenant_id, *id).await {
                Ok(t) => Some(t),
                Err(DomainError::Validation { field, message }) => {
                    errors.push(FieldError { field, message });
                    None
                }
                Err(e) => return Err(e),
            }
        }
        Action::Enable { method: Method::Code, .. } | Action::Disable => None,
    };
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }

    let now = ctx.clock.now();
    let delay = ctx.rollout.apply_delay;
    let ids: Vec<Uuid> = servers.iter().map(|s| s.id).collect();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_servers(&txn, &ids).await?;
    let configs = load_configs(&txn, &ids).await?;
    let mut outcome = SaveOutcome { due_at: Some(now + delay), ..Default::default() };
    let mut rows = Vec::with_capacity(servers.len());
    let mut jobs = Vec::with_capacity(servers.len());
    for s in &servers {
        let mut r = configs.get(&s.id).map(rollout_of).unwrap_or_default();
        let target = match &action {
            Action::Enable { method, .. } => {
                let blockers: Vec<String> = crate::servers::readiness(s)
                    .into_iter()
                    .filter(|f| f.severity == crate::readiness::Severity::Blocker)
                    .map(|f| f.message)
                    .collect();
                if !blockers.is_empty() {
                    outcome.refused.push(Refused { server_id: s.id, server_name: s.name.clone(), reasons: blockers });
                    continue;
                }
                Target { enabled: true, method: *method, topic_id: topic.as_ref().map(|t| t.id) }
            }
            Action::Disable => {
                let current = r.latest.as_ref().map(|l| l.target.clone()).or(r.applied.as_ref().map(|a| a.1.clone()));
                Target {
                    enabled: false,
                    method: current.as_ref().map_or(Method::Code, |t| t.method),
                    topic_id: current.and_then(|t| t.topic_id),
                }
            }
            Action::ChangeTopic { .. } => {
                let current = r.latest.as_ref().map(|l| l.target.clone());
                match current {
                    Some(t) if t.enabled && t.method == Method::Sms => {
                        Target { topic_id: topic.as_ref().map(|t| t.id), ..t }
                    }
                    _ => {
                        outcome.refused.push(Refused {
                            server_id: s.id,
                            server_name: s.name.clone(),
                            reasons: vec![format!(
                                "{}: only a server with 2FA by SMS/Email on has a topic to change; enable 2FA on it instead",
                                s.name
                            )],
                        });
                        continue;
                    }
                }
            }
        };
        let revision = r.save(target, now, delay);
        rows.push(stored(s.id, tenant_id, &r, now));
        jobs.push(new_job(tenant_id, s.id, revision, now, delay));
        outcome.saved.push(Saved { server_id: s.id, revision });
    }
    let saved_ids: Vec<Uuid> = outcome.saved.iter().map(|s| s.server_id).collect();
    for chunk in saved_ids.chunks(CHUNK) {
        rollout_job::Entity::update_many()
            .col_expr(rollout_job::Column::Status, Expr::value("superseded"))
            .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
            .filter(rollout_job::Column::ServerId.is_in(chunk.iter().copied()))
            .filter(rollout_job::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        upsert(&txn, rows.by_ref().take(CHUNK).collect()).await?;
    }
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        rollout_job::Entity::insert_many(jobs.by_ref().take(CHUNK).collect::<Vec<_>>())
            .exec_without_returning(&txn)
            .await?;
    }
    if !outcome.saved.is_empty() {
        let (verb, detail) = match &action {
            Action::Enable { method, .. } => (
                "2fa.enable",
                format!(
                    "method {}{}",
                    method.as_str(),
                    topic.as_ref().map(|t| format!(", topic {}", t.name)).unwrap_or_default()
                ),
            ),
            Action::Disable => ("2fa.disable", String::new()),
            Action::ChangeTopic { .. } => {
                ("2fa.change_topic", topic.as_ref().map(|t| format!("topic {}", t.name)).unwrap_or_default())
            }
        };
        audit::record(
            &txn,
            now,
            actor,
            Entry {
                tenant_id: Some(tenant_id),
                action: verb,
                target: names(&servers, &saved_ids),
                detail: format!("{detail}; applies at {}", (now + delay).format("%Y-%m-%d %H:%M:%S UTC")),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// The job that hands `revision` of a server to its agent once the delay is over.
fn new_job(
    tenant_id: Uuid,
    server_id: Uuid,
    revision: i64,
    now: DateTime<Utc>,
    delay: chrono::Duration,
) -> rollout_job::ActiveModel {
    rollout_job::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        server_id: Set(server_id),
        revision: Set(revision),
        due_at: Set(now + delay),
        status: Set("pending".into()),
        lease_owner: Set(None),
        lease_until: Set(None),
        runs: Set(0),
        created_at: Set(now),
        finished_at: Set(None),
    }
}

/// "web-01, web-02 and 8 more": the servers an audit entry is about.
fn names(servers: &[server::Model], ids: &[Uuid]) -> String {
    let wanted: HashSet<&Uuid> = ids.iter().collect();
    let names: Vec<&str> = servers.iter().filter(|s| wanted.contains(&s.id)).map(|s| s.name.as_str()).collect();
    let shown = names.iter().take(10).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 10 {
        format!("{shown} and {} more", names.len() - 10)
    } else {
        shown
    }
}

/// What a cancel or retry did, server by server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub done: Vec<Uuid>,
    pub refused: Vec<Refused>,
}

/// Cancels changes still waiting for their apply delay. Their jobs never run.
/// Canceling puts back what the agent has; that is refused when it would bring back 2FA by
/// SMS/Email with a topic deleted since, which nobody would receive codes from.
pub async fn cancel(ctx: &Ctx, caller: &Caller, actor: &Actor, server_ids: &[Uuid]) -> DomainResult<BatchOutcome> {
    let tenant_id = caller.admin_tenant()?;
    let topics: HashSet<Uuid> = topic::Entity::find()
        .select_only()
        .column(topic::Column::Id)
        .filter(topic::Column::TenantId.eq(tenant_id))
        .into_tuple::<Uuid>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    change_each(ctx, caller, actor, server_ids, "2fa.cancel", |r, now, _| {
        let restores_lost_topic = r.applied.as_ref().is_some_and(|(_, t)| {
            t.enabled && t.method == Method::Sms && !t.topic_id.is_some_and(|id| topics.contains(&id))
        });
        if restores_lost_topic && r.latest.as_ref().is_some_and(|l| matches!(l.phase, Phase::Scheduled { .. })) {
            return Err("canceling would turn 2FA by SMS/Email back on with a topic that has been deleted, so nobody \
                        would receive login codes; let the change apply, or enable 2FA again with another topic"
                .into());
        }
        r.cancel(now).map(|()| None).map_err(|e| e.to_string())
    })
    .await
}

/// Tries failed changes again, as new revisions after the apply delay.
pub async fn retry(ctx: &Ctx, caller: &Caller, actor: &Actor, server_ids: &[Uuid]) -> DomainResult<BatchOutcome> {
    change_each(ctx, caller, actor, server_ids, "2fa.retry", |r, now, delay| {
        r.retry(now, delay).map(Some).map_err(|e| e.to_string())
    })
    .await
}

async fn change_each(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    server_ids: &[Uuid],
    verb: &str,
    change: impl Fn(&mut ServerRollout, DateTime<Utc>, chrono::Duration) -> Result<Option<i64>, String>,
) -> DomainResult<BatchOutcome> {
    let tenant_id = caller.admin_tenant()?;
    let servers = tenant_servers(ctx, tenant_id, server_ids).await?;
    let ids: Vec<Uuid> = servers.iter().map(|s| s.id).collect();
    let now = ctx.clock.now();
    let delay = ctx.rollout.apply_delay;
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_servers(&txn, &ids).await?;
    let configs = load_configs(&txn, &ids).await?;
    let mut out = BatchOutcome::default();
    let mut rows = vec![];
    for s in &servers {
        let mut r = configs.get(&s.id).map(rollout_of).unwrap_or_default();
        match change(&mut r, now, delay) {
            Ok(new_revision) => {
                rollout_job::Entity::update_many()
                    .col_expr(rollout_job::Column::Status, Expr::value("canceled"))
                    .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
                    .filter(rollout_job::Column::ServerId.eq(s.id))
                    .filter(rollout_job::Column::Status.eq("pending"))
                    .exec(&txn)
                    .await?;
                if let Some(revision) = new_revision {
                    rollout_job::Entity::insert(new_job(tenant_id, s.id, revision, now, delay))
                        .exec_without_returning(&txn)
                        .await?;
                }
                rows.push(stored(s.id, tenant_id, &r, now));
                out.done.push(s.id);
            }
            Err(reason) => out.refused.push(Refused {
                server_id: s.id,
                server_name: s.name.clone(),
                reasons: vec![format!("{}: {reason}", s.name)],
            }),
        }
    }
    for chunk in rows.chunks(CHUNK) {
        upsert(&txn, chunk.to_vec()).await?;
    }
    if !out.done.is_empty() {
        audit::record(
            &txn,
            now,
            actor,
            Entry {
                tenant_id: Some(tenant_id),
                action: verb,
                target: names(&servers, &out.done),
                detail: String::new(),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(out)
}

// ---- the jobs ----

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
        .col_expr(rollout_job::Column::Status, Expr::value("done"))
        .col_expr(rollout_job::Column::Runs, Expr::col(rollout_job::Column::Runs).add(1))
        .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
        .filter(rollout_job::Column::Id.is_in(job_ids.clone()))
        .filter(rollout_job::Column::Status.eq("pending"))
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
        .col_expr(config::Column::Phase, Expr::value("failed"))
        .col_expr(config::Column::PhaseAt, Expr::value(now))
        .col_expr(config::Column::FailureReason, Expr::value(rollout::deadline_reason(deadline)))
        .filter(config::Column::Phase.eq("delivering"))
        .filter(config::Column::PhaseAt.lte(now - deadline))
        .exec(&ctx.db)
        .await?;
    Ok(res.rows_affected)
}

// ---- listing ----

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Part of the name or the IP address.
    pub search: Option<String>,
    /// `enabled`, `disabled`, `enabling`, `disabling` or `failed`.
    pub status: Option<String>,
    /// `linux` or `windows`.
    pub os_type: Option<String>,
    /// `sms` or `code`: servers whose 2FA (on or on its way) uses it.
    pub method: Option<String>,
    pub region: Option<String>,
    /// `name` (default), `-name`, `os`, `status`.
    pub sort: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

pub const STATUSES: &[&str] = &["enabled", "disabled", "enabling", "disabling", "failed"];
pub const SORTS: &[&str] = &["name", "-name", "os", "status"];
pub const MAX_LIMIT: u64 = 200;

#[derive(Clone, Debug)]
pub struct Row {
    pub server: server::Model,
    pub config: Option<config::Model>,
    pub topic: Option<topic::Model>,
    pub status: Status,
}

fn status_condition(status: &str) -> Condition {
    let moving = || config::Column::Phase.is_in(["scheduled", "delivering"]);
    let settled = || config::Column::Phase.is_in(["applied", "canceled"]);
    match status {
        "enabling" => Condition::all().add(moving()).add(config::Column::Enabled.eq(true)),
        "disabling" => Condition::all().add(moving()).add(config::Column::Enabled.eq(false)),
        "failed" => Condition::all().add(config::Column::Phase.eq("failed")),
        "enabled" => Condition::all().add(settled()).add(config::Column::AppliedEnabled.eq(true)),
        _ => Condition::any()
            .add(config::Column::ServerId.is_null())
            .add(Condition::all().add(settled()).add(config::Column::AppliedEnabled.eq(false))),
    }
}

pub async fn list(ctx: &Ctx, caller: &Caller, q: &ListQuery) -> DomainResult<Page<Row>> {
    let tenant_id = caller.admin_tenant()?;
    let mut errors = vec![];
    if q.limit == 0 || q.limit > MAX_LIMIT {
        errors.push(FieldError::new("limit", format!("must be from 1 to {MAX_LIMIT}")));
    }
    if q.offset > i64::MAX as u64 {
        errors.push(FieldError::new("offset", format!("must be at most {}", i64::MAX)));
    }
    let pick = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let (status, os, method, region, sort, text) =
        (pick(&q.status), pick(&q.os_type), pick(&q.method), pick(&q.region), pick(&q.sort), pick(&q.search));
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        errors.push(FieldError::new("status", "must be enabled, disabled, enabling, disabling or failed"));
    }
    if os.as_deref().is_some_and(|s| s != "linux" && s != "windows") {
        errors.push(FieldError::new("os_type", "must be linux or windows"));
    }
    if method.as_deref().is_some_and(|s| Method::parse(s).is_none()) {
        errors.push(FieldError::new("method", "must be sms or code"));
    }
    if region.as_deref().is_some_and(|r| !REGIONS.iter().any(|(id, _)| *id == r)) {
        errors.push(FieldError::new("region", "must be one of the listed regions"));
    }
    if sort.as_deref().is_some_and(|s| !SORTS.contains(&s)) {
        errors.push(FieldError::new("sort", "must be name, -name, os or status"));
    }
    if text.as_deref().is_some_and(|s| s.len() > 128) {
        errors.push(FieldError::new("search", "must be at most 128 characters"));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }

    let backend = ctx.db.get_database_backend();
    let mut cond = Condition::all().add(server::Column::TenantId.eq(tenant_id));
    if let Some(s) = &text {
        let (name, ip) = (
            search::contains_on(backend, server::Column::Name, s),
            search::contains_on(backend, server::Column::Ip, s),
        );
        cond = cond.add(Condition::any().add(name).add(ip));
    }
    if let Some(os) = &os {
        cond = cond.add(server::Column::OsType.eq(os.as_str()));
    }
    if let Some(r) = &region {
        cond = cond.add(server::Column::Region.eq(r.as_str()));
    }
    if let Some(m) = &method {
        cond = cond
            .add(config::Column::Method.eq(m.as_str()))
            .add(Condition::any().add(config::Column::Enabled.eq(true)).add(config::Column::AppliedEnabled.eq(true)));
    }
    if let Some(s) = &status {
        cond = cond.add(status_condition(s));
    }
    let joined = || {
        server::Entity::find().join(JoinType::LeftJoin, server::Relation::TwoFactorConfig.def()).filter(cond.clone())
    };
    // One read transaction, so the count and the page agree. On PostgreSQL it also has these
    // statements planned for their actual values: with a generic plan (which PostgreSQL may
    // settle on after five runs of a prepared statement) `lower(name) LIKE $2` cannot tell a
    // rare name from a common one, and scanned all the tenant's servers (35 ms for 100,000)
    // instead of using the trigram index (8 ms, under 1 ms once autovacuum has run).
    let read = ctx.db.begin().await?;
    if backend == DbBackend::Postgres {
        read.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan").await?;
    }
    let total = if status.is_none() && method.is_none() {
        // No condition on the configuration: counting needs no join.
        server::Entity::find().filter(cond.clone()).count(&read).await?
    } else {
        joined().count(&read).await?
    };
    let mut select = joined().select_also(config::Entity);
    select = match sort.as_deref() {
        Some("-name") => select.order_by_desc(server::Column::Name),
        Some("os") => select.order_by_asc(server::Column::OsType).order_by_asc(server::Column::Name),
        Some("status") => select.order_by_asc(config::Column::Phase).order_by_asc(server::Column::Name),
        _ => select.order_by_asc(server::Column::Name),
    };
    let found = select.order_by_asc(server::Column::Id).offset(q.offset).limit(q.limit).all(&read).await?;
    let topic_ids: Vec<Uuid> = found.iter().filter_map(|(_, c)| c.as_ref().and_then(|c| c.topic_id)).collect();
    let topics: HashMap<Uuid, topic::Model> = if topic_ids.is_empty() {
        HashMap::new()
    } else {
        topic::Entity::find()
            .filter(topic::Column::Id.is_in(topic_ids))
            .all(&read)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect()
    };
    read.commit().await?;
    let now = ctx.clock.now();
    let items = found
        .into_iter()
        .map(|(server, config)| {
            let status = config.as_ref().map(rollout_of).unwrap_or_default().status(now);
            let topic = config.as_ref().and_then(|c| c.topic_id).and_then(|id| topics.get(&id).cloned());
            Row { server, config, topic, status }
        })
        .collect();
    Ok(Page { items, total })
}

/// Servers handed a revision since `since`, by any replica: their agents' long polls on this
/// replica are woken, since the replica that ran the job could only wake its own.
pub async fn handed_over_since(ctx: &Ctx, since: DateTime<Utc>) -> DomainResult<Vec<Uuid>> {
    Ok(config::Entity::find()
        .select_only()
        .column(config::Column::ServerId)
        .filter(config::Column::Phase.eq("delivering"))
        .filter(config::Column::PhaseAt.gte(since))
        .into_tuple::<Uuid>()
        .all(&ctx.db)
        .await?)
}

/// One server of the caller's tenant with its 2FA configuration, as `list` shows it.
pub async fn get(ctx: &Ctx, caller: &Caller, server_id: Uuid) -> DomainResult<Row> {
    let server = crate::servers::get(ctx, caller, server_id).await?;
    let config = config::Entity::find_by_id(server.id).one(&ctx.db).await?;
    let topic = match config.as_ref().and_then(|c| c.topic_id) {
        Some(id) => topic::Entity::find_by_id(id).one(&ctx.db).await?,
        None => None,
    };
    let status = config.as_ref().map(rollout_of).unwrap_or_default().status(ctx.clock.now());
    Ok(Row { server, config, topic, status })
}
