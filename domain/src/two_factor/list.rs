//! The tab's list of servers with their 2FA status, filtered, sorted and paged.

use super::store::rollout_of;
use crate::{
    caller::Caller,
    ctx::Ctx,
    entities::{
        server, topic,
        two_factor_config::{self as config, PhaseName},
    },
    error::{DomainError, DomainResult, FieldError},
    rollout::{Method, Status, Target},
    search,
    servers::{Page, REGIONS},
};
use proto::{OsType, TwoFactorState};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, TransactionTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

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
    /// `online` or `offline`: the agent as the list shows it (`server::agent_online_condition`).
    pub agent: Option<String>,
    pub region: Option<String>,
    /// `name` (default), `-name`, `os`, `status`.
    pub sort: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

pub const SORTS: &[&str] = &["name", "-name", "os", "status"];
pub const MAX_LIMIT: u64 = 200;

#[derive(Clone, Debug)]
pub struct Row {
    pub server: server::Model,
    pub config: Option<config::Model>,
    pub status: Status,
    pub effective: Effective,
    /// Heard from within the last 3 minutes (`server::Model::agent_online`).
    pub agent_online: bool,
    /// What stands in the way of 2FA, including the failure while the last change stands failed
    /// (a retry or a new save replaces it).
    pub readiness: Vec<crate::readiness::Finding>,
}

impl Row {
    fn new(
        server: server::Model,
        config: Option<config::Model>,
        topics: &HashMap<Uuid, topic::Model>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Row {
        let status = config.as_ref().map(rollout_of).unwrap_or_default().status(now);
        let effective = Effective::of(config.as_ref(), topics);
        let failure = match &status {
            Status::Failed { reason } => Some(reason.as_str()),
            _ => None,
        };
        let readiness = crate::servers::readiness(&server, now, failure);
        Row { agent_online: server.agent_online(now), readiness, server, config, status, effective }
    }
}

/// One 2FA setting of a server: on or off, and with what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setting {
    pub on: bool,
    /// While on.
    pub method: Option<Method>,
    /// While on with SMS/Email (`None` also if the topic was deleted since).
    pub topic: Option<topic::Model>,
}

/// What is in force on a server and what is on its way: the one place the console's tab, the
/// server page and the HSS API take them from, so that they cannot disagree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effective {
    /// What the agent last acknowledged. Off before any acknowledgement (also after a failed
    /// first enable); a canceled or failed change leaves it as it was.
    pub in_force: Setting,
    /// The saved change not yet acknowledged (scheduled or handed to the agent).
    pub pending: Option<Setting>,
}

impl Effective {
    fn of(config: Option<&config::Model>, topics: &HashMap<Uuid, topic::Model>) -> Effective {
        let r = config.map(rollout_of).unwrap_or_default();
        let setting = |t: &Target| Setting {
            on: t.enabled,
            method: t.enabled.then_some(t.method),
            topic: t.topic_id.filter(|_| t.enabled && t.method == Method::Sms).and_then(|id| topics.get(&id).cloned()),
        };
        Effective { in_force: r.in_force().map(setting).unwrap_or_default(), pending: r.pending().map(setting) }
    }

    /// Whether this server's login codes go to `topic_id` as the tab shows it: SMS/Email 2FA
    /// with that topic in force, or on its way. A failed or canceled change does not count, as
    /// it shows nowhere (`of` reads the same two).
    pub fn sends_codes_to(config: &config::Model, topic_id: Uuid) -> bool {
        let r = rollout_of(config);
        let to = |t: &Target| t.enabled && t.method == Method::Sms && t.topic_id == Some(topic_id);
        r.in_force().is_some_and(to) || r.pending().is_some_and(to)
    }

    /// The topics `of` needs for these configurations.
    fn topic_ids<'a>(configs: impl Iterator<Item = &'a config::Model>) -> Vec<Uuid> {
        configs.flat_map(|c| [c.topic_id, c.applied_topic_id]).flatten().collect()
    }

    /// What the tab's Method and Topic columns show: an enable on its way, else what is in force.
    pub fn shown(&self) -> &Setting {
        self.pending.as_ref().filter(|p| p.on).unwrap_or(&self.in_force)
    }

    /// The switch as last saved: the change on its way, else what is in force. A canceled or
    /// failed change is not; a failed first enable is off. What HSS's `auth_switch` reports
    /// (scripts set the switch and read it back at once, while the console says Enabling…).
    pub fn configured(&self) -> &Setting {
        self.pending.as_ref().unwrap_or(&self.in_force)
    }
}

fn status_condition(status: TwoFactorState) -> Condition {
    let moving = || config::Column::Phase.is_in([PhaseName::Scheduled, PhaseName::Delivering]);
    let settled = || config::Column::Phase.is_in([PhaseName::Applied, PhaseName::Canceled]);
    match status {
        TwoFactorState::Enabling => Condition::all().add(moving()).add(config::Column::Enabled.eq(true)),
        TwoFactorState::Disabling => Condition::all().add(moving()).add(config::Column::Enabled.eq(false)),
        TwoFactorState::Failed => Condition::all().add(config::Column::Phase.eq(PhaseName::Failed)),
        TwoFactorState::Enabled => Condition::all().add(settled()).add(config::Column::AppliedEnabled.eq(true)),
        TwoFactorState::Disabled => Condition::any()
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
    let agent = pick(&q.agent);
    let agent_online = match agent.as_deref() {
        None => None,
        Some("online") => Some(true),
        Some("offline") => Some(false),
        Some(_) => {
            errors.push(FieldError::new("agent", "must be online or offline"));
            None
        }
    };
    let state = status.as_deref().and_then(TwoFactorState::parse);
    if status.is_some() && state.is_none() {
        errors.push(FieldError::new("status", "must be enabled, disabled, enabling, disabling or failed"));
    }
    let os = os.as_deref().map(OsType::parse);
    if os == Some(None) {
        errors.push(FieldError::new("os_type", "must be linux or windows"));
    }
    let method = method.as_deref().map(Method::parse);
    if method == Some(None) {
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
    if let Some(Some(os)) = os {
        cond = cond.add(server::Column::OsType.eq(os));
    }
    if let Some(r) = &region {
        cond = cond.add(server::Column::Region.eq(r.as_str()));
    }
    let now = ctx.clock.now();
    if let Some(online) = agent_online {
        cond = cond.add(server::agent_online_condition(online, now));
    }
    if let Some(Some(m)) = method {
        cond = cond
            .add(config::Column::Method.eq(m))
            .add(Condition::any().add(config::Column::Enabled.eq(true)).add(config::Column::AppliedEnabled.eq(true)));
    }
    if let Some(s) = state {
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
    let topics = load_topics(&read, Effective::topic_ids(found.iter().filter_map(|(_, c)| c.as_ref()))).await?;
    read.commit().await?;
    let items = found.into_iter().map(|(server, config)| Row::new(server, config, &topics, now)).collect();
    Ok(Page { items, total })
}

async fn load_topics<C: ConnectionTrait>(conn: &C, ids: Vec<Uuid>) -> DomainResult<HashMap<Uuid, topic::Model>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(topic::Entity::find()
        .filter(topic::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

/// One server of the caller's tenant with its 2FA configuration, as `list` shows it.
pub async fn get(ctx: &Ctx, caller: &Caller, server_id: Uuid) -> DomainResult<Row> {
    let server = crate::servers::get(ctx, caller, server_id).await?;
    let config = config::Entity::find_by_id(server.id).one(&ctx.db).await?;
    let topics = load_topics(&ctx.db, Effective::topic_ids(config.iter())).await?;
    Ok(Row::new(server, config, &topics, ctx.clock.now()))
}
