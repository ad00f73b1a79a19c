//! Saving Enable / Disable / Change Topic as new revisions with their jobs, and cancel and retry.

use super::{
    store::{load_configs, load_servers, lock_servers, rollout_of, stored, upsert},
    CHUNK, MAX_BATCH,
};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{
        rollout_job::{self, JobStatus},
        server, subscription, topic,
    },
    error::{DomainError, DomainResult},
    rollout::{Method, Phase, Revision, ServerRollout, Target},
};
use chrono::{DateTime, Utc};
use proto::SubscriptionStatus;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A change to a batch of servers. SMS/Email always names its topic, so a request without one
/// is refused where it is read, before it becomes an `Action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// 2FA by verification code, from the end users' own factors.
    EnableCode,
    /// 2FA by SMS/Email, to the confirmed subscribers of the topic.
    EnableSms {
        topic_id: Uuid,
    },
    Disable,
    ChangeTopic {
        topic_id: Uuid,
    },
}

impl Action {
    fn enables(&self) -> bool {
        matches!(self, Action::EnableCode | Action::EnableSms { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub server_id: Uuid,
    pub revision: i64,
}

/// A server a save left alone, and why (each reason names the rule and the fix; the server is
/// named here once, and whoever shows a reason beside others puts the name in front).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub server_id: Uuid,
    pub server_name: String,
    pub reasons: Vec<String>,
}

/// A server a save skipped because the change would change nothing on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unchanged {
    pub server_id: Uuid,
    pub server_name: String,
    /// Says what the server already is, e.g. "2FA is already off".
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveOutcome {
    pub saved: Vec<Saved>,
    pub refused: Vec<Refused>,
    /// Servers already as the change asks (or with that very change on its way): no new
    /// revision, so no job, no apply delay reset, and nothing for an offline agent to fail.
    pub unchanged: Vec<Unchanged>,
    /// When the saved changes are applied; `None` when nothing was saved.
    pub due_at: Option<DateTime<Utc>>,
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
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Confirmed.as_str()))
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
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Confirmed.as_str()))
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
        Err(DomainError::Invalid(bad)) => {
            errors.extend(bad);
            vec![]
        }
        Err(e) => return Err(e),
    };
    let topic = match &action {
        Action::EnableSms { topic_id: id } | Action::ChangeTopic { topic_id: id } => {
            match usable_topic(ctx, tenant_id, *id).await {
                Ok(t) => Some(t),
                Err(DomainError::Invalid(bad)) => {
                    errors.extend(bad);
                    None
                }
                Err(e) => return Err(e),
            }
        }
        Action::EnableCode | Action::Disable => None,
    };
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }

    let now = ctx.clock.now();
    let delay = ctx.rollout.apply_delay;
    let ids: Vec<Uuid> = servers.iter().map(|s| s.id).collect();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_servers(&txn, &ids).await?;
    // The topic was checked before the transaction; a delete racing this save must either see
    // the saved rows (and refuse) or have deleted it already (and this save is refused).
    if let Some(t) = &topic {
        crate::topics::lock(&txn, t.id).await?;
        if topic::Entity::find_by_id(t.id).one(&txn).await?.is_none() {
            return Err(DomainError::validation("topic", "no such topic: it has just been deleted"));
        }
    }
    let configs = load_configs(&txn, &ids).await?;
    let mut outcome = SaveOutcome::default();
    let mut rows = Vec::with_capacity(servers.len());
    let mut jobs = Vec::with_capacity(servers.len());
    for s in &servers {
        let mut r = configs.get(&s.id).map(rollout_of).unwrap_or_default();
        let target = match &action {
            Action::EnableCode => Target { enabled: true, method: Method::Code, topic_id: None },
            Action::EnableSms { .. } => {
                Target { enabled: true, method: Method::Sms, topic_id: topic.as_ref().map(|t| t.id) }
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
                            reasons: vec![
                                "only a server with 2FA by SMS/Email on has a topic to change; enable 2FA on it instead"
                                    .to_owned(),
                            ],
                        });
                        continue;
                    }
                }
            }
        };
        if r.unchanged_by(&target) {
            outcome.unchanged.push(Unchanged {
                server_id: s.id,
                server_name: s.name.clone(),
                reason: unchanged_reason(&r, &target, topic.as_ref()),
            });
            continue;
        }
        if action.enables() {
            // A failed last change is what this save tries again, so it does not block it.
            let blockers = blockers(s, now);
            if !blockers.is_empty() {
                outcome.refused.push(Refused { server_id: s.id, server_name: s.name.clone(), reasons: blockers });
                continue;
            }
        }
        let revision = r.save(target, now, delay);
        rows.push(stored(s.id, tenant_id, &r, now));
        jobs.push(new_job(tenant_id, s.id, revision, now, delay));
        outcome.saved.push(Saved { server_id: s.id, revision });
    }
    if !outcome.saved.is_empty() {
        outcome.due_at = Some(now + delay);
    }
    let saved_ids: Vec<Uuid> = outcome.saved.iter().map(|s| s.server_id).collect();
    for chunk in saved_ids.chunks(CHUNK) {
        rollout_job::Entity::update_many()
            .col_expr(rollout_job::Column::Status, Expr::value(JobStatus::Superseded))
            .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
            .filter(rollout_job::Column::ServerId.is_in(chunk.iter().copied()))
            .filter(rollout_job::Column::Status.eq(JobStatus::Pending))
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
            Action::EnableCode => (AuditAction::TwoFactorEnable, format!("method {}", Method::Code.as_str())),
            Action::EnableSms { .. } => (
                AuditAction::TwoFactorEnable,
                format!(
                    "method {}{}",
                    Method::Sms.as_str(),
                    topic.as_ref().map(|t| format!(", topic {}", t.name)).unwrap_or_default()
                ),
            ),
            Action::Disable => (AuditAction::TwoFactorDisable, String::new()),
            Action::ChangeTopic { .. } => (
                AuditAction::TwoFactorChangeTopic,
                topic.as_ref().map(|t| format!("topic {}", t.name)).unwrap_or_default(),
            ),
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

/// What stands in the way of 2FA on a server now (readiness blockers), each with its fix.
fn blockers(s: &server::Model, now: DateTime<Utc>) -> Vec<String> {
    crate::servers::readiness(s, now, None)
        .into_iter()
        .filter(|f| f.severity == crate::readiness::Severity::Blocker)
        .map(|f| f.reason)
        .collect()
}

/// Why a server was skipped: what it already is, or that the change is already on its way.
fn unchanged_reason(r: &ServerRollout, target: &Target, topic: Option<&topic::Model>) -> String {
    let what = match (target.enabled, target.method, topic) {
        (false, ..) => "2FA off".to_owned(),
        (true, Method::Code, _) => "2FA by verification code".to_owned(),
        (true, Method::Sms, Some(t)) => format!("2FA by SMS/Email with topic {}", t.name),
        (true, Method::Sms, None) => "2FA by SMS/Email".to_owned(),
    };
    if r.pending().is_some() {
        format!("{what} is already on its way; nothing to change")
    } else {
        format!("already has {what}; nothing to change")
    }
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
        status: Set(JobStatus::Pending),
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
    change_each(ctx, caller, actor, server_ids, AuditAction::TwoFactorCancel, |_, r, now, _| {
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

/// Tries failed changes again, as new revisions after the apply delay. Like a save, a change
/// that turns 2FA on is refused while the server is not ready for it, or when its topic can no
/// longer carry codes (deleted since, or no confirmed subscription left).
pub async fn retry(ctx: &Ctx, caller: &Caller, actor: &Actor, server_ids: &[Uuid]) -> DomainResult<BatchOutcome> {
    let usable: HashSet<Uuid> = usable_topics(ctx, caller).await?.into_iter().map(|t| t.id).collect();
    change_each(ctx, caller, actor, server_ids, AuditAction::TwoFactorRetry, |s, r, now, delay| {
        let failed = match &r.latest {
            Some(Revision { target, phase: Phase::Failed { .. }, .. }) => Some(target),
            _ => None,
        };
        if let Some(t) = failed.filter(|t| t.enabled) {
            let blockers = blockers(s, now);
            if !blockers.is_empty() {
                return Err(blockers.join(" "));
            }
            if t.method == Method::Sms && !t.topic_id.is_some_and(|id| usable.contains(&id)) {
                return Err("its topic has been deleted or has no confirmed subscription left, so nobody would \
                            receive login codes; enable 2FA again with another topic"
                    .into());
            }
        }
        r.retry(now, delay).map(Some).map_err(|e| e.to_string())
    })
    .await
}

async fn change_each(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    server_ids: &[Uuid],
    verb: AuditAction,
    change: impl Fn(&server::Model, &mut ServerRollout, DateTime<Utc>, chrono::Duration) -> Result<Option<i64>, String>,
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
        match change(s, &mut r, now, delay) {
            Ok(new_revision) => {
                rollout_job::Entity::update_many()
                    .col_expr(rollout_job::Column::Status, Expr::value(JobStatus::Canceled))
                    .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
                    .filter(rollout_job::Column::ServerId.eq(s.id))
                    .filter(rollout_job::Column::Status.eq(JobStatus::Pending))
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
            Err(reason) => {
                out.refused.push(Refused { server_id: s.id, server_name: s.name.clone(), reasons: vec![reason] })
            }
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
