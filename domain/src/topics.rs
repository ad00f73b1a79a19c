//! Notification topics (Simple Message Notification): a unique, immutable name in the tenant,
//! a display name (the sender name of emails) and a URN.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{server, subscription, tenant, topic, two_factor_config},
    error::{DomainError, DomainResult, FieldError},
    servers::REGIONS,
    validate::{DisplayName, TopicName},
};
use proto::SubscriptionStatus;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Locks a topic's row until the end of the transaction, so that rules counting its confirmed
/// endpoints (the last one may not be deleted) see each other's changes.
pub(crate) async fn lock<C: ConnectionTrait>(conn: &C, topic_id: Uuid) -> DomainResult<()> {
    Ok(crate::db::lock_rows::<topic::Entity>(conn, &[topic_id]).await?)
}

/// The names of the servers whose 2FA sends login codes to this topic, sorted: SMS/Email 2FA
/// with this topic in force (acknowledged by the agent) or on its way, exactly as the 2FA tab
/// shows them (`two_factor::Effective`). A failed or canceled change to it does not hold it.
pub async fn code_servers<C: ConnectionTrait>(conn: &C, topic_id: Uuid) -> DomainResult<Vec<String>> {
    // Every row that names the topic at all; `sends_codes_to` then keeps those the tab shows.
    let cond = Condition::any()
        .add(two_factor_config::Column::TopicId.eq(topic_id))
        .add(two_factor_config::Column::AppliedTopicId.eq(topic_id));
    let ids: Vec<Uuid> = two_factor_config::Entity::find()
        .filter(cond)
        .all(conn)
        .await?
        .into_iter()
        .filter(|c| crate::two_factor::Effective::sends_codes_to(c, topic_id))
        .map(|c| c.server_id)
        .collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut names: Vec<String> = server::Entity::find()
        .select_only()
        .column(server::Column::Name)
        .filter(server::Column::Id.is_in(ids))
        .into_tuple()
        .all(conn)
        .await?;
    names.sort();
    Ok(names)
}

/// At most ten names, then "and N more".
pub(crate) fn some_names(names: &[String]) -> String {
    let shown = names.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 10 {
        format!("{shown} and {} more", names.len() - 10)
    } else {
        shown
    }
}

/// The warning for servers whose 2FA topic has no confirmed endpoint.
pub fn no_recipient_warning(topic_name: &str) -> String {
    format!(
        "topic {topic_name} has no confirmed endpoint: nobody receives login codes. Add and confirm an endpoint, or change the topic."
    )
}

/// Of these topics, those with no confirmed endpoint, with the warning to show on the servers
/// that use them for login codes.
pub async fn recipient_warnings(ctx: &Ctx, topic_ids: &[Uuid]) -> DomainResult<HashMap<Uuid, String>> {
    if topic_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let reached: Vec<Uuid> = subscription::Entity::find()
        .select_only()
        .column(subscription::Column::TopicId)
        .filter(subscription::Column::TopicId.is_in(topic_ids.iter().copied()))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Confirmed.as_str()))
        .distinct()
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let silent: Vec<Uuid> = topic_ids.iter().copied().filter(|id| !reached.contains(id)).collect();
    if silent.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(topic::Entity::find()
        .filter(topic::Column::Id.is_in(silent))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|t| (t.id, no_recipient_warning(&t.name)))
        .collect())
}

/// The URN of a topic, in SMN's shape: `urn:smn:{region}:{project_id}:{name}`.
pub fn urn(region: &str, project_id: &str, name: &str) -> String {
    format!("urn:smn:{region}:{project_id}:{name}")
}

/// A topic with its subscription counts.
#[derive(Clone, Debug)]
pub struct TopicSummary {
    pub topic: topic::Model,
    pub confirmed: u64,
    pub total: u64,
}

/// The tenant's topics whose name or display name contains `text`.
pub async fn search(ctx: &Ctx, caller: &Caller, text: &str) -> DomainResult<Vec<topic::Model>> {
    let tenant_id = caller.admin_tenant()?;
    let mut q = topic::Entity::find().filter(topic::Column::TenantId.eq(tenant_id));
    let text = text.trim();
    if !text.is_empty() {
        q = q.filter(
            Condition::any()
                .add(crate::search::contains(topic::Column::Name, text))
                .add(crate::search::contains(topic::Column::DisplayName, text)),
        );
    }
    Ok(q.order_by_asc(topic::Column::Name).all(&ctx.db).await?)
}

pub async fn summaries(ctx: &Ctx, caller: &Caller, text: &str) -> DomainResult<Vec<TopicSummary>> {
    let topics = search(ctx, caller, text).await?;
    let counts: Vec<(Uuid, String, i64)> = subscription::Entity::find()
        .select_only()
        .column(subscription::Column::TopicId)
        .column(subscription::Column::Status)
        .column_as(subscription::Column::Id.count(), "n")
        .filter(subscription::Column::TopicId.is_in(topics.iter().map(|t| t.id)))
        .group_by(subscription::Column::TopicId)
        .group_by(subscription::Column::Status)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let count = |topic: Uuid, wanted: &dyn Fn(&str) -> bool| -> u64 {
        counts.iter().filter(|(t, status, _)| *t == topic && wanted(status)).map(|(_, _, n)| *n as u64).sum()
    };
    Ok(topics
        .into_iter()
        .map(|t| TopicSummary {
            confirmed: count(t.id, &|s| s == SubscriptionStatus::Confirmed.as_str()),
            total: count(t.id, &|s| s != SubscriptionStatus::Canceled.as_str()),
            topic: t,
        })
        .collect())
}

/// One topic of the caller's tenant; another tenant's is "not found".
pub async fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> DomainResult<topic::Model> {
    let tenant_id = caller.admin_tenant()?;
    topic::Entity::find_by_id(id)
        .filter(topic::Column::TenantId.eq(tenant_id))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("topic"))
}

/// The caller's topic with this URN, as the SMN API addresses topics; another tenant's URN is
/// "not found".
pub async fn get_by_urn(ctx: &Ctx, caller: &Caller, urn: &str) -> DomainResult<topic::Model> {
    let tenant_id = caller.admin_tenant()?;
    topic::Entity::find()
        .filter(topic::Column::TenantId.eq(tenant_id))
        .filter(topic::Column::Urn.eq(urn))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("topic"))
}

/// A new topic's names, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    pub name: TopicName,
    pub display_name: DisplayName,
}

impl NewTopic {
    /// The names as typed; what is wrong with either is reported for both at once.
    pub fn parse(name: &str, display_name: &str) -> DomainResult<NewTopic> {
        match (TopicName::parse(name), DisplayName::parse(display_name)) {
            (Ok(name), Ok(display_name)) => Ok(NewTopic { name, display_name }),
            (name, display_name) => Err(DomainError::Invalid(
                [
                    name.err().map(|m| FieldError::new("name", m)),
                    display_name.err().map(|m| FieldError::new("display_name", m)),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )),
        }
    }
}

pub async fn create(ctx: &Ctx, caller: &Caller, actor: &Actor, new: &NewTopic) -> DomainResult<topic::Model> {
    let tenant_id = caller.admin_tenant()?;
    let name = new.name.as_str();
    let display_name = new.display_name.as_str();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let taken = topic::Entity::find()
        .filter(topic::Column::TenantId.eq(tenant_id))
        .filter(topic::Column::Name.eq(name))
        .one(&txn)
        .await?
        .is_some();
    if taken {
        return Err(DomainError::validation("name", format!("a topic named {name} already exists")));
    }
    // Another transaction may insert the same name between this check and the insert below
    // (PostgreSQL does not serialize them); the unique index then has the last word.
    let t = tenant::Entity::find_by_id(tenant_id).one(&txn).await?.ok_or(DomainError::NotFound("tenant"))?;
    let now = ctx.clock.now();
    let taken = || DomainError::validation("name", format!("a topic named {name} already exists"));
    let model = topic::Entity::insert(topic::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        name: Set(name.to_owned()),
        display_name: Set(display_name.to_owned()),
        urn: Set(urn(REGIONS[0].0, &t.project_id, name)),
        created_at: Set(now),
    })
    .exec_with_returning(&txn)
    .await
    .map_err(|e| if crate::db::is_unique_violation(&e) { taken() } else { e.into() })?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::TopicCreate,
            target: model.urn.clone(),
            detail: format!("display name {display_name:?}"),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes a topic and its subscriptions. A topic that servers with 2FA on use is kept, and the
/// error names the servers, since deleting it would leave their logins without a code recipient.
pub async fn delete(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let t = get(ctx, caller, id).await?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock(&txn, t.id).await?;
    // In use while a server's 2FA sends codes to it, or will: a Disable still waiting for its
    // delay leaves the topic in force on the host until the agent applies it.
    let servers_using = code_servers(&txn, t.id).await?;
    if !servers_using.is_empty() {
        return Err(DomainError::Conflict(format!(
            "Topic {} is used by two-factor authentication on {} (in force, or until a pending change applies). \
             Change their topic or disable 2FA on them, and delete it once that has applied.",
            t.name,
            some_names(&servers_using)
        )));
    }
    // Other servers may still remember the topic: with 2FA off, or in a failed or canceled
    // change. They forget it (a retry of such a change is then refused for want of a topic).
    two_factor_config::Entity::update_many()
        .col_expr(two_factor_config::Column::TopicId, sea_orm::sea_query::Expr::value(Option::<Uuid>::None))
        .filter(two_factor_config::Column::TopicId.eq(t.id))
        .exec(&txn)
        .await?;
    subscription::Entity::delete_many().filter(subscription::Column::TopicId.eq(t.id)).exec(&txn).await?;
    topic::Entity::delete_by_id(t.id).exec(&txn).await?;
    audit::record(
        &txn,
        ctx.clock.now(),
        actor,
        Entry { tenant_id: Some(t.tenant_id), action: AuditAction::TopicDelete, target: t.urn, detail: String::new() },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
