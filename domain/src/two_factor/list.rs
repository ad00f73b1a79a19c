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
    sea_query::{
        Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, Order as SeaOrder, Query, SimpleExpr, WithClause,
    },
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select, SelectTwo,
    TransactionTrait,
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

/// The phases in which a configuration's change is over, so that what is in force is its status.
const SETTLED: [PhaseName; 2] = [PhaseName::Applied, PhaseName::Canceled];

/// A configuration that is settled with 2FA in force `on` (Enabled) or off (Disabled); `col`
/// names its columns, as the table's own or under an alias.
fn settled_with(on: bool, col: impl Fn(config::Column) -> Expr) -> Condition {
    Condition::all().add(col(config::Column::Phase).is_in(SETTLED)).add(col(config::Column::AppliedEnabled).eq(on))
}

fn status_condition(status: TwoFactorState) -> Condition {
    let moving = || config::Column::Phase.is_in([PhaseName::Scheduled, PhaseName::Delivering]);
    let own = |c: config::Column| Expr::col(c);
    match status {
        TwoFactorState::Enabling => Condition::all().add(moving()).add(config::Column::Enabled.eq(true)),
        TwoFactorState::Disabling => Condition::all().add(moving()).add(config::Column::Enabled.eq(false)),
        TwoFactorState::Failed => Condition::all().add(config::Column::Phase.eq(PhaseName::Failed)),
        TwoFactorState::Enabled => settled_with(true, own),
        TwoFactorState::Disabled => {
            Condition::any().add(config::Column::ServerId.is_null()).add(settled_with(false, own))
        }
    }
}

/// Whether the listed server has a configuration whose status is not Disabled: a server is
/// Disabled exactly when it has none (`status_condition`'s Disabled, written so that
/// PostgreSQL and SQLite walk the name index probing each server's configuration instead of
/// joining every configuration first).
fn not_disabled_exists() -> SimpleExpr {
    let c = Alias::new("c");
    let mut configured = Query::select();
    configured
        .expr(Expr::val(1))
        .from_as(config::Entity, c.clone())
        .and_where(Expr::col((c.clone(), config::Column::ServerId)).equals((server::Entity, server::Column::Id)))
        .cond_where(not_disabled_in(&c));
    Expr::exists(configured.to_owned())
}

/// The configurations (under the alias `table`) whose status is not Disabled: changing,
/// failed, or in force on.
fn not_disabled_in(table: &Alias) -> Condition {
    settled_with(false, |c| Expr::col((table.clone(), c))).not()
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
    // Conditions on the server row, and conditions on its configuration (through the join).
    let mut on_server = Condition::all();
    if let Some(s) = &text {
        let name = search::contains_on(backend, server::Column::Name, s);
        on_server = on_server.add(match search::may_match_ip(s) {
            true => Condition::any().add(name).add(search::contains_on(backend, server::Column::Ip, s)),
            // No address holds it: the name alone (the second LIKE per row cost SQLite a
            // third of a search that reads every server).
            false => Condition::all().add(name),
        });
    }
    if let Some(Some(os)) = os {
        on_server = on_server.add(server::Column::OsType.eq(os));
    }
    if let Some(r) = &region {
        on_server = on_server.add(server::Column::Region.eq(r.as_str()));
    }
    let now = ctx.clock.now();
    if let Some(online) = agent_online {
        on_server = on_server.add(server::agent_online_condition(online, now));
    }
    let mut on_config = Condition::all();
    if let Some(Some(m)) = method {
        on_config = on_config
            .add(config::Column::Method.eq(m))
            .add(Condition::any().add(config::Column::Enabled.eq(true)).add(config::Column::AppliedEnabled.eq(true)));
    }
    if let Some(s) = state {
        on_config = on_config.add(status_condition(s));
    }
    let filter = Filter {
        tenant_id,
        on_server,
        on_config,
        server_side: text.is_some() || os.is_some() || region.is_some() || agent_online.is_some(),
        config_side: state.is_some() || method.is_some(),
        // Every rule of `status_condition` but Disabled's needs a configuration, and so does a method.
        servers_without_config: state == Some(TwoFactorState::Disabled) && method.is_none(),
    };
    let order = Order::of(sort.as_deref());

    // One read transaction, so the count and the page agree: SQLite's reads one snapshot (WAL
    // mode); PostgreSQL's is REPEATABLE READ for the same, where each statement would otherwise
    // see what committed since the last (a server saved between the count and the page could
    // show on neither page). Being read-only, it is never refused for serialization. On
    // PostgreSQL it also has these statements planned for their actual values: with a generic
    // plan (which PostgreSQL may settle on after five runs of a prepared statement)
    // `lower(name) LIKE $2` cannot tell a rare name from a common one, and scanned all the
    // tenant's servers (35 ms for 100,000) instead of using the trigram index (8 ms, under 1 ms
    // once autovacuum has run).
    let read = match backend {
        DbBackend::Postgres => {
            ctx.db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => ctx.db.begin().await?,
    };
    if backend == DbBackend::Postgres {
        read.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan").await?;
    }
    let sqlite = backend != DbBackend::Postgres;
    let (found, total) = if !filter.server_side && !filter.config_side {
        // Every server of the tenant is listed: the page is the first entries of the name index.
        let total = server::Entity::find().filter(filter.servers()).count(&read).await?;
        (filter.page(order, q.offset, q.limit).all(&read).await?, total)
    } else if filter.servers_without_config && !filter.server_side && matches!(order, Order::Name | Order::NameDesc) {
        // Disabled alone: the servers in name order that have no configuration of another
        // status (one probe of the configuration's key each, stopping at the page's end), and
        // the tenant's servers less those configurations, counted in one statement.
        let total = filter.count_disabled(&read).await?;
        let page = order
            .apply(
                server::Entity::find()
                    .join(JoinType::LeftJoin, server::Relation::TwoFactorConfig.def())
                    .filter(server::Column::TenantId.eq(filter.tenant_id))
                    .filter(not_disabled_exists().not())
                    .select_also(config::Entity),
            )
            .offset(q.offset)
            .limit(q.limit);
        (page.all(&read).await?, total)
    } else if filter.server_side && !filter.config_side && matches!(order, Order::Name | Order::NameDesc) {
        // Conditions on the server only, in name order. First the page among the first servers
        // in name order (`Order::walk`): where the matches are spread through the names (`acme`)
        // that is the page, and the count follows. Otherwise the matches are counted and the
        // first one's name found in one pass, and the page is read from that name on. Reading
        // the page with no bound walked the name index past every server before the first match
        // (`web`'s 25,000 matches sort after 75,000 others), and the count then read them all
        // again: SQLite's `web` 25–38 → 15–22 ms a call on the bench's data.
        let walked = match order.walk(q.offset, q.limit) {
            Some(rows) if sqlite => Some(filter.bounded_page(&read, order, rows, q.offset, q.limit).await?),
            Some(rows) => Some((filter.walked_page(order, None, rows, q.offset, q.limit).all(&read).await?, false)),
            None => None,
        };
        match walked {
            Some((page, _)) if page.len() as u64 == q.limit => {
                let total = filter.count(&read).await?;
                (page, total)
            }
            Some((page, true)) => {
                let total = match page_ends_list(&page, q.offset, q.limit) {
                    Some(total) => total,
                    None => filter.count(&read).await?,
                };
                (page, total)
            }
            _ => filter.page_after_count(&read, backend, order, q.offset, q.limit).await?,
        }
    } else if sqlite && filter.server_side && filter.config_side {
        // With conditions on both, SQLite reads the configurations and looks up each one's
        // server, for the count and again for the page: gathering the matches once costs it a
        // third less (`web` and Enabling: 33 → 20 ms a call on the bench's data).
        filter.counted_page(&read, backend, order, q.offset, q.limit).await?
    } else if sqlite && filter.server_side {
        // In the OS or status order: SQLite walks its index past the servers that don't match.
        // The ways below cost it more than they save (`web`: 36 ms, against 20 ms for this
        // under the same load).
        let page = filter.page(order, q.offset, q.limit).all(&read).await?;
        let total = match page_ends_list(&page, q.offset, q.limit) {
            Some(total) => total,
            None => filter.count(&read).await?,
        };
        (page, total)
    } else {
        // PostgreSQL reads the row of every server it walks past in name order: for `web`,
        // whose 25,000 matches sort after 75,000 others, that took 28 ms. So it walks a
        // bounded number of servers and otherwise gathers the matches (see `Order::walk`).
        // With conditions on the configuration only, counting is cheap, so it comes first.
        let counted = match filter.server_side {
            false => Some(filter.count_configured(&read).await?),
            true => None,
        };
        let walked = match order.walk(q.offset, q.limit) {
            Some(rows) => Some(filter.walked_page(order, None, rows, q.offset, q.limit).all(&read).await?),
            None => None,
        };
        match (walked, counted) {
            (Some(page), _) if page.len() as u64 == q.limit => {
                let total = match counted {
                    Some(total) => total,
                    None => filter.count(&read).await?,
                };
                (page, total)
            }
            // Else SQLite's own plan. (With statistics it reads a status's configurations and
            // sorts their servers: 13 ms for Enabling, where the walk found the page in 4 ms.)
            (_, Some(total)) if sqlite => (filter.page(order, q.offset, q.limit).all(&read).await?, total),
            _ => filter.counted_page(&read, backend, order, q.offset, q.limit).await?,
        }
    };
    let topics = load_topics(&read, Effective::topic_ids(found.iter().filter_map(|(_, c)| c.as_ref()))).await?;
    read.commit().await?;
    let items = found.into_iter().map(|(server, config)| Row::new(server, config, &topics, now)).collect();
    Ok(Page { items, total })
}

/// The number of matches where the page says it: a short page (read in the same transaction
/// as the count would be) is the list's last, unless it is empty past the first page. A
/// search that finds a few servers then reads them once instead of twice (count and page).
fn page_ends_list<T>(page: &[T], offset: u64, limit: u64) -> Option<u64> {
    let len = page.len() as u64;
    (len < limit && (len > 0 || offset == 0)).then(|| offset.saturating_add(len))
}

/// The list's order: a key, then the server's id so that pages never overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Name,
    NameDesc,
    Os,
    Status,
}

impl Order {
    fn of(sort: Option<&str>) -> Order {
        match sort {
            Some("-name") => Order::NameDesc,
            Some("os") => Order::Os,
            Some("status") => Order::Status,
            _ => Order::Name,
        }
    }

    fn apply<Q: QueryOrder>(self, q: Q) -> Q {
        let q = match self {
            Order::Name => q.order_by_asc(server::Column::Name),
            Order::NameDesc => q.order_by_desc(server::Column::Name),
            Order::Os => q.order_by_asc(server::Column::OsType).order_by_asc(server::Column::Name),
            Order::Status => q.order_by_asc(config::Column::Phase).order_by_asc(server::Column::Name),
        };
        q.order_by_asc(server::Column::Id)
    }

    /// The columns the order reads, as named in `Filter::matches`.
    fn keys(self) -> &'static [(&'static str, SeaOrder)] {
        match self {
            Order::Name => &[(NAME, SeaOrder::Asc), (ID, SeaOrder::Asc)],
            Order::NameDesc => &[(NAME, SeaOrder::Desc), (ID, SeaOrder::Asc)],
            Order::Os => &[(OS, SeaOrder::Asc), (NAME, SeaOrder::Asc), (ID, SeaOrder::Asc)],
            Order::Status => &[(PHASE, SeaOrder::Asc), (NAME, SeaOrder::Asc), (ID, SeaOrder::Asc)],
        }
    }

    /// How many of the tenant's servers to walk in name order for a filtered page, or `None`
    /// where walking cannot pay. The walk finds a page at once when matches are spread through
    /// the names, but a filter whose matches sort late (`web` among `app`, `db` and `rdp`
    /// servers) would walk past every server that does not match. So it stops after a few more
    /// servers than the page needs, and the page comes from the matches themselves
    /// (`Filter::counted_page`).
    fn walk(self, offset: u64, limit: u64) -> Option<u64> {
        if !matches!(self, Order::Name | Order::NameDesc) {
            return None;
        }
        let rows = offset.saturating_add(limit).saturating_mul(4).saturating_add(WALK_MIN);
        (rows <= WALK_MAX).then_some(rows)
    }
}

/// The servers from the name `from` on in a name order: at or after it ascending, at or before
/// it descending.
fn from_name(order: Order, from: &str) -> SimpleExpr {
    match order {
        Order::NameDesc => server::Column::Name.lte(from),
        _ => server::Column::Name.gte(from),
    }
}

/// The servers up to the name `to` in a name order: at or before it ascending, at or after it
/// descending.
fn up_to_name(order: Order, to: &str) -> SimpleExpr {
    match order {
        Order::NameDesc => server::Column::Name.gte(to),
        _ => server::Column::Name.lte(to),
    }
}

/// A filtered page walks at least this many servers, and never more than `WALK_MAX`.
const WALK_MIN: u64 = 1_000;
const WALK_MAX: u64 = 20_000;
const ID: &str = "id";
const NAME: &str = "name";
const OS: &str = "os_type";
const PHASE: &str = "phase";

/// The list's conditions for one tenant.
struct Filter {
    tenant_id: Uuid,
    on_server: Condition,
    on_config: Condition,
    /// Any condition in `on_server` / `on_config`.
    server_side: bool,
    config_side: bool,
    /// Whether `on_config` also takes servers that have no configuration.
    servers_without_config: bool,
}

type Found = Vec<(server::Model, Option<config::Model>)>;

impl Filter {
    fn servers(&self) -> Condition {
        Condition::all().add(server::Column::TenantId.eq(self.tenant_id)).add(self.on_server.clone())
    }

    fn joined(&self) -> Select<server::Entity> {
        server::Entity::find()
            .join(JoinType::LeftJoin, server::Relation::TwoFactorConfig.def())
            .filter(self.servers())
            .filter(self.on_config.clone())
    }

    fn page(&self, order: Order, offset: u64, limit: u64) -> SelectTwo<server::Entity, config::Entity> {
        order.apply(self.joined().select_also(config::Entity)).offset(offset).limit(limit)
    }

    /// `page` over the matches from the name `from` on, in a name order, where `from` is the
    /// first match's name (`count_and_first`): the page starts without walking the servers
    /// before it.
    fn page_from(
        &self,
        order: Order,
        from: &str,
        offset: u64,
        limit: u64,
    ) -> SelectTwo<server::Entity, config::Entity> {
        self.page(order, offset, limit).filter(from_name(order, from))
    }

    /// `page` over the tenant's first `walk` servers in the list's order only (from the name
    /// `from` on, if given, in a name order). When it comes back full it is the page itself:
    /// every server past the walk sorts after these.
    fn walked_page(
        &self,
        order: Order,
        from: Option<&str>,
        walk: u64,
        offset: u64,
        limit: u64,
    ) -> SelectTwo<server::Entity, config::Entity> {
        let mut servers = server::Entity::find().filter(server::Column::TenantId.eq(self.tenant_id));
        if let Some(from) = from {
            servers = servers.filter(from_name(order, from));
        }
        let first = order.apply(servers).limit(walk).into_query();
        let mut page = self.page(order, offset, limit);
        // The walk's rows stand in for the table, under its name.
        QueryTrait::query(&mut page).from_clear().from_subquery(first, server::Entity);
        page
    }

    /// The number of matching servers.
    async fn count<C: ConnectionTrait>(&self, conn: &C) -> DomainResult<u64> {
        if !self.config_side {
            // No condition on the configuration: counting needs no join.
            return Ok(server::Entity::find().filter(self.servers()).count(conn).await?);
        }
        if self.server_side {
            return Ok(self.joined().count(conn).await?);
        }
        self.count_configured(conn).await
    }

    /// The number of matches for conditions on the server only, and the name of the first one
    /// in `order` (a name order), in one pass over them.
    async fn count_and_first<C: ConnectionTrait>(&self, conn: &C, order: Order) -> DomainResult<(u64, Option<String>)> {
        let name = Expr::col((server::Entity, server::Column::Name));
        let first = match order {
            Order::NameDesc => name.max(),
            _ => name.min(),
        };
        let (total, first): (i64, Option<String>) = server::Entity::find()
            .select_only()
            .column_as(Expr::col(Asterisk).count(), "total")
            .column_as(first, "first")
            .filter(self.servers())
            .into_tuple()
            .one(conn)
            .await?
            .ok_or_else(|| DomainError::Internal("no count".into()))?;
        Ok((u64::try_from(total).unwrap_or_default(), first))
    }

    /// The page in a name order, found from the first match's name (`count_and_first`). The
    /// count says how many matches the page holds (`expected`), so its read stops at the last
    /// of them. Should the page come back with fewer (PostgreSQL's bounded walk stopped short
    /// of the last), it comes from the gathered matches instead.
    async fn page_after_count<C: ConnectionTrait>(
        &self,
        conn: &C,
        backend: DbBackend,
        order: Order,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Found, u64)> {
        let (total, first) = self.count_and_first(conn, order).await?;
        let expected = std::cmp::min(limit, total.saturating_sub(offset));
        let Some(first) = first.filter(|_| expected > 0) else {
            return Ok((vec![], total));
        };
        // SQLite walks its covering index cheaply; PostgreSQL reads each server it walks past,
        // so it walks a bounded number (see `Order::walk`) and else gathers the matches.
        let page = match (backend, order.walk(offset, expected)) {
            (DbBackend::Sqlite, _) => Some(self.page_from(order, &first, offset, expected).all(conn).await?),
            (_, Some(rows)) => Some(self.walked_page(order, Some(&first), rows, offset, expected).all(conn).await?),
            (_, None) => None,
        };
        match page {
            Some(page) if page.len() as u64 == expected => Ok((page, total)),
            _ => self.counted_page(conn, backend, order, offset, limit).await,
        }
    }

    /// SQLite: `page` among the tenant's first `walk` servers in a name order, bounded by the
    /// name the walk ends at (read from the index alone), and whether that covered every
    /// server. When it comes back full it is the page: every server past the bound sorts after
    /// these.
    async fn bounded_page<C: ConnectionTrait>(
        &self,
        conn: &C,
        order: Order,
        walk: u64,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Found, bool)> {
        let names = server::Entity::find()
            .select_only()
            .column(server::Column::Name)
            .filter(server::Column::TenantId.eq(self.tenant_id));
        let names = match order {
            Order::NameDesc => names.order_by_desc(server::Column::Name),
            _ => names.order_by_asc(server::Column::Name),
        };
        let bound: Option<String> = names.offset(walk.saturating_sub(1)).limit(1).into_tuple().one(conn).await?;
        let mut page = self.page(order, offset, limit);
        if let Some(bound) = &bound {
            page = page.filter(up_to_name(order, bound));
        }
        Ok((page.all(conn).await?, bound.is_none()))
    }

    /// The number of matches for conditions on the configuration only, from the tenant's
    /// configurations, which carry their server's tenant: joining every server of the tenant
    /// to its configuration took 15 ms on PostgreSQL for 10,000 matches among 100,000 servers.
    async fn count_configured<C: ConnectionTrait>(&self, conn: &C) -> DomainResult<u64> {
        if self.servers_without_config {
            // Disabled: the servers without a configuration, and those whose configuration says so.
            return self.count_disabled(conn).await;
        }
        let configured =
            config::Entity::find().filter(config::Column::TenantId.eq(self.tenant_id)).filter(self.on_config.clone());
        Ok(configured.count(conn).await?)
    }

    /// The number of Disabled servers (no other condition): the tenant's servers less their
    /// configurations of another status, in one statement (every configuration belongs to a
    /// server of its tenant).
    async fn count_disabled<C: ConnectionTrait>(&self, conn: &C) -> DomainResult<u64> {
        let servers = Query::select()
            .expr(Expr::col(Asterisk).count())
            .from(server::Entity)
            .and_where(server::Column::TenantId.eq(self.tenant_id))
            .to_owned();
        let c = Alias::new("c");
        let others = Query::select()
            .expr(Expr::col(Asterisk).count())
            .from_as(config::Entity, c.clone())
            .and_where(Expr::col((c.clone(), config::Column::TenantId)).eq(self.tenant_id))
            .cond_where(not_disabled_in(&c))
            .to_owned();
        let both = Query::select()
            .expr_as(SimpleExpr::SubQuery(None, Box::new(servers.into())), Alias::new("servers"))
            .expr_as(SimpleExpr::SubQuery(None, Box::new(others.into())), Alias::new("others"))
            .to_owned();
        let statement = conn.get_database_backend().build(&both);
        let row = conn.query_one_raw(statement).await?.ok_or_else(|| DomainError::Internal("no count".into()))?;
        let (servers, others) = (row.try_get::<i64>("", "servers")?, row.try_get::<i64>("", "others")?);
        Ok(u64::try_from(servers.saturating_sub(others)).unwrap_or_default())
    }

    /// The page and the number of matches in one statement: the matches (their ids and sort
    /// keys) are gathered once, then counted and sorted. Costs one pass over the matches, where
    /// counting and then walking the name index past the servers that don't match cost two.
    async fn counted_page<C: ConnectionTrait>(
        &self,
        conn: &C,
        backend: DbBackend,
        order: Order,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Found, u64)> {
        let keys = order.keys();
        let mut matches = server::Entity::find()
            .select_only()
            .column_as(server::Column::Id, ID)
            .column_as(server::Column::Name, NAME)
            .filter(self.servers());
        if order == Order::Os {
            matches = matches.column_as(server::Column::OsType, OS);
        }
        if self.config_side || order == Order::Status {
            matches = matches
                .join(JoinType::LeftJoin, server::Relation::TwoFactorConfig.def())
                .filter(self.on_config.clone());
        }
        if order == Order::Status {
            matches = matches.column_as(config::Column::Phase, PHASE);
        }
        let (m, t, p, total) = (Alias::new("m"), Alias::new("t"), Alias::new("p"), Alias::new("total"));
        let count = Query::select().expr_as(Expr::col(Asterisk).count(), total.clone()).from(m.clone()).to_owned();
        let mut page = Query::select();
        page.from(m.clone()).limit(limit).offset(offset);
        for (key, dir) in keys {
            page.column(Alias::new(*key)).order_by(Alias::new(*key), dir.clone());
        }
        let mut outer = Query::select();
        outer
            .column((t.clone(), total.clone()))
            .column((p.clone(), Alias::new(ID)))
            .from_subquery(count, t)
            .join_subquery(sea_orm::sea_query::JoinType::LeftJoin, page.to_owned(), p.clone(), Expr::val(1).eq(1));
        for (key, dir) in keys {
            outer.order_by((p.clone(), Alias::new(*key)), dir.clone());
        }
        let cte = CommonTableExpression::new().query(matches.into_query()).materialized(true).table_name(m).to_owned();
        let statement = backend.build(&outer.to_owned().with(WithClause::new().cte(cte).to_owned()));
        let rows = conn.query_all_raw(statement).await?;
        let mut total = 0;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            total = row.try_get::<i64>("", "total")?;
            if let Some(id) = row.try_get::<Option<Uuid>>("", ID)? {
                ids.push(id);
            }
        }
        let total = u64::try_from(total).unwrap_or_default();
        if ids.is_empty() {
            return Ok((vec![], total));
        }
        let mut found: HashMap<Uuid, (server::Model, Option<config::Model>)> = server::Entity::find()
            .join(JoinType::LeftJoin, server::Relation::TwoFactorConfig.def())
            .select_also(config::Entity)
            .filter(server::Column::TenantId.eq(self.tenant_id))
            .filter(server::Column::Id.is_in(ids.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .map(|(s, c)| (s.id, (s, c)))
            .collect();
        Ok((ids.iter().filter_map(|id| found.remove(id)).collect(), total))
    }
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
