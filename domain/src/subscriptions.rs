//! Subscriptions: SMS or email endpoints of a topic. A new one is Unconfirmed until its
//! endpoint follows the confirmation link (valid 48 hours); an unsubscribe link cancels it.
//! Nothing is ever delivered to an endpoint that is not Confirmed.

use crate::{
    audit::{self, Actor, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{subscription, topic, unsubscribe_token},
    error::{DomainError, DomainResult, FieldError},
    messages::{self, TopicInfo},
    outbox::{self, Channel},
    tokens, topics, validate,
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub const MAX_ENDPOINTS_AT_ONCE: usize = 10;
pub const CONFIRMATION_VALID_FOR: Duration = Duration::hours(48);
/// Confirmation messages per endpoint per hour.
pub const EMAIL_CONFIRMATIONS_PER_HOUR: u64 = 20;
pub const SMS_CONFIRMATIONS_PER_HOUR: u64 = 10;

#[derive(Clone, Debug)]
pub struct NewEndpoint {
    /// `sms` or `email`.
    pub protocol: String,
    pub endpoint: String,
    pub remark: String,
}

fn channel(protocol: &str) -> Option<Channel> {
    match protocol {
        "sms" => Some(Channel::Sms),
        "email" => Some(Channel::Email),
        _ => None,
    }
}

fn links(ctx: &Ctx, confirm: Option<&str>, unsubscribe: &str) -> (String, String) {
    let base = ctx.public_url.trim_end_matches('/');
    (
        confirm.map(|t| format!("{base}/smn/confirm?token={t}")).unwrap_or_default(),
        format!("{base}/smn/unsubscribe?token={unsubscribe}"),
    )
}

/// A new unsubscribe link's token for this subscription; its hash is kept.
async fn new_unsubscribe_token(
    txn: &DatabaseTransaction,
    subscription_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<String> {
    let (token, hash) = tokens::new_token();
    unsubscribe_token::Entity::insert(unsubscribe_token::ActiveModel {
        token_hash: Set(hash),
        subscription_id: Set(subscription_id),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(token)
}

/// Records a subscription event in the audit trail, against its topic.
async fn note(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    actor: &Actor,
    t: &topic::Model,
    action: &'static str,
    detail: String,
) -> DomainResult<()> {
    audit::record(txn, now, actor, Entry { tenant_id: Some(t.tenant_id), action, target: t.urn.clone(), detail }).await
}

fn info(t: &topic::Model) -> TopicInfo<'_> {
    TopicInfo { tenant_id: t.tenant_id, name: &t.name, display_name: &t.display_name }
}

/// Adds up to 10 endpoints to a topic. Each is checked on its own and each bad one gets its own
/// error; if any is bad, nothing is saved. Each new subscription gets a confirmation message.
pub async fn add(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    topic_id: Uuid,
    endpoints: &[NewEndpoint],
) -> DomainResult<Vec<subscription::Model>> {
    let t = topics::get(ctx, caller, topic_id).await?;
    if endpoints.is_empty() {
        return Err(DomainError::validation("endpoints", "enter at least one endpoint"));
    }
    if endpoints.len() > MAX_ENDPOINTS_AT_ONCE {
        return Err(DomainError::validation(
            "endpoints",
            format!("at most {MAX_ENDPOINTS_AT_ONCE} endpoints can be added at once"),
        ));
    }
    let existing = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(t.id))
        .filter(subscription::Column::Status.ne("canceled"))
        .all(&ctx.db)
        .await?;

    let mut errors = vec![];
    let mut clean: Vec<(Channel, String, String)> = vec![];
    for (i, e) in endpoints.iter().enumerate() {
        let field = format!("endpoints[{i}]");
        let protocol = e.protocol.trim().to_lowercase();
        let endpoint = e.endpoint.trim().to_owned();
        let Some(ch) = channel(&protocol) else {
            errors.push(FieldError::new(format!("{field}.protocol"), format!("{:?} must be sms or email", e.protocol)));
            continue;
        };
        let endpoint = if ch == Channel::Email { endpoint.to_lowercase() } else { endpoint };
        let check = if ch == Channel::Email { validate::email(&endpoint) } else { validate::phone(&endpoint) };
        if let Err(m) = check {
            errors.push(FieldError::new(format!("{field}.endpoint"), format!("{endpoint:?} {m}")));
            continue;
        }
        if e.remark.chars().count() > 128 {
            errors.push(FieldError::new(format!("{field}.remark"), "must be at most 128 characters"));
            continue;
        }
        let duplicate = clean.iter().any(|(c, ep, _)| *c == ch && *ep == endpoint)
            || existing.iter().any(|s| s.protocol == protocol && s.endpoint == endpoint);
        if duplicate {
            errors.push(FieldError::new(
                format!("{field}.endpoint"),
                format!("{endpoint} is already subscribed to this topic"),
            ));
            continue;
        }
        clean.push((ch, endpoint, e.remark.trim().to_owned()));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }

    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let mut out = vec![];
    for (ch, endpoint, remark) in clean {
        let (confirm, confirm_hash) = tokens::new_token();
        let model = subscription::Entity::insert(subscription::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(t.tenant_id),
            topic_id: Set(t.id),
            protocol: Set(ch.as_str().to_owned()),
            endpoint: Set(endpoint.clone()),
            remark: Set(remark),
            status: Set("unconfirmed".into()),
            confirm_token_hash: Set(Some(confirm_hash)),
            confirm_expires_at: Set(Some(now + CONFIRMATION_VALID_FOR)),
            created_at: Set(now),
            confirmed_at: Set(None),
            canceled_at: Set(None),
        })
        .exec_with_returning(&txn)
        .await?;
        let unsubscribe = new_unsubscribe_token(&txn, model.id, now).await?;
        let (confirm_url, unsubscribe_url) = links(ctx, Some(&confirm), &unsubscribe);
        outbox::enqueue(&txn, now, messages::confirmation(&info(&t), ch, &endpoint, &confirm_url, &unsubscribe_url))
            .await?;
        note(&txn, now, actor, &t, "subscription.create", format!("{} {endpoint}", ch.as_str())).await?;
        out.push(model);
    }
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(out)
}

pub async fn list(ctx: &Ctx, caller: &Caller, topic_id: Uuid) -> DomainResult<Vec<subscription::Model>> {
    let t = topics::get(ctx, caller, topic_id).await?;
    Ok(subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(t.id))
        .order_by_asc(subscription::Column::CreatedAt)
        .order_by_asc(subscription::Column::Endpoint)
        .all(&ctx.db)
        .await?)
}

/// The URN of a subscription, in SMN's shape: its topic's URN and its own id.
pub fn urn(topic_urn: &str, id: Uuid) -> String {
    format!("{topic_urn}:{}", id.simple())
}

/// The caller's subscription with this URN; anything else (another tenant's, malformed) is
/// "not found".
pub async fn get_by_urn(ctx: &Ctx, caller: &Caller, urn: &str) -> DomainResult<(subscription::Model, topic::Model)> {
    let not_found = || DomainError::NotFound("subscription");
    let (topic_urn, id) = urn.rsplit_once(':').ok_or_else(not_found)?;
    let id = Uuid::try_parse(id).map_err(|_| not_found())?;
    let (s, t) = match get(ctx, caller, id).await {
        Err(DomainError::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    if t.urn != topic_urn {
        return Err(not_found());
    }
    Ok((s, t))
}

/// Every subscription of the caller's tenant, with its topic, oldest first.
pub async fn list_for_tenant(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<(subscription::Model, topic::Model)>> {
    let tenant_id = caller.admin_tenant()?;
    let topics: std::collections::HashMap<Uuid, topic::Model> = topic::Entity::find()
        .filter(topic::Column::TenantId.eq(tenant_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    Ok(subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .order_by_asc(subscription::Column::CreatedAt)
        .order_by_asc(subscription::Column::Endpoint)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter_map(|s| topics.get(&s.topic_id).cloned().map(|t| (s, t)))
        .collect())
}

/// One subscription of the caller's tenant, with its topic.
pub async fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> DomainResult<(subscription::Model, topic::Model)> {
    let tenant_id = caller.admin_tenant()?;
    let s = subscription::Entity::find_by_id(id)
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("subscription"))?;
    let t = topics::get(ctx, caller, s.topic_id).await?;
    Ok((s, t))
}

/// Sends a new confirmation message to an unconfirmed endpoint, within its hourly limit.
pub async fn request_confirmation(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let (s, t) = get(ctx, caller, id).await?;
    if s.status != "unconfirmed" {
        return Err(DomainError::Conflict(format!(
            "{} is {}; only unconfirmed subscriptions can be asked to confirm",
            s.endpoint, s.status
        )));
    }
    let ch = channel(&s.protocol).ok_or_else(|| DomainError::Internal(format!("protocol {}", s.protocol)))?;
    let limit = if ch == Channel::Email { EMAIL_CONFIRMATIONS_PER_HOUR } else { SMS_CONFIRMATIONS_PER_HOUR };
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let sent = outbox::count_recent(&txn, &s.endpoint, "subscription_confirmation", now - Duration::hours(1)).await?;
    if sent >= limit {
        return Err(DomainError::RateLimited(format!(
            "{} has been sent {sent} confirmation requests in the last hour, the most allowed for {}; try again later",
            s.endpoint,
            if ch == Channel::Email { "email" } else { "SMS" }
        )));
    }
    let (confirm, confirm_hash) = tokens::new_token();
    let mut am: subscription::ActiveModel = s.clone().into();
    am.confirm_token_hash = Set(Some(confirm_hash));
    am.confirm_expires_at = Set(Some(now + CONFIRMATION_VALID_FOR));
    subscription::Entity::update(am).exec(&txn).await?;
    let unsubscribe = new_unsubscribe_token(&txn, s.id, now).await?;
    let (confirm_url, unsubscribe_url) = links(ctx, Some(&confirm), &unsubscribe);
    outbox::enqueue(&txn, now, messages::confirmation(&info(&t), ch, &s.endpoint, &confirm_url, &unsubscribe_url))
        .await?;
    note(&txn, now, actor, &t, "subscription.request_confirmation", s.endpoint.clone()).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(())
}

pub async fn delete(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let (s, t) = get(ctx, caller, id).await?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    subscription::Entity::delete_by_id(s.id).exec(&txn).await?;
    note(&txn, ctx.clock.now(), actor, &t, "subscription.delete", format!("{} {}", s.protocol, s.endpoint)).await?;
    txn.commit().await?;
    Ok(())
}

/// What a confirmation or unsubscribe link did, for the public page.
#[derive(Clone, Debug)]
pub struct LinkOutcome {
    pub topic_name: String,
    pub topic_display_name: String,
    pub protocol: String,
    pub endpoint: String,
    /// The link had already done its work before.
    pub already: bool,
}

fn outcome(s: &subscription::Model, t: &topic::Model, already: bool) -> LinkOutcome {
    LinkOutcome {
        topic_name: t.name.clone(),
        topic_display_name: t.display_name.clone(),
        protocol: s.protocol.clone(),
        endpoint: s.endpoint.clone(),
        already,
    }
}

#[derive(Clone, Copy)]
enum Link {
    Confirm,
    Unsubscribe,
}

async fn by_token(
    txn: &DatabaseTransaction,
    link: Link,
    token: &str,
) -> DomainResult<(subscription::Model, topic::Model)> {
    let not_found = || DomainError::NotFound("link");
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    let hash = tokens::hash_token(token);
    let s = match link {
        Link::Confirm => {
            subscription::Entity::find().filter(subscription::Column::ConfirmTokenHash.eq(hash)).one(txn).await?
        }
        Link::Unsubscribe => match unsubscribe_token::Entity::find_by_id(hash).one(txn).await? {
            Some(u) => subscription::Entity::find_by_id(u.subscription_id).one(txn).await?,
            None => None,
        },
    }
    .ok_or_else(not_found)?;
    let t = topic::Entity::find_by_id(s.topic_id).one(txn).await?.ok_or_else(not_found)?;
    Ok((s, t))
}

/// Follows a confirmation link: the endpoint becomes Confirmed, if the link is still valid.
pub async fn confirm(ctx: &Ctx, token: &str, source_ip: &str) -> DomainResult<LinkOutcome> {
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let (s, t) = by_token(&txn, Link::Confirm, token).await?;
    match s.status.as_str() {
        "confirmed" => return Ok(outcome(&s, &t, true)),
        "canceled" => return Err(DomainError::Conflict(
            "This subscription was canceled, so it cannot be confirmed. Ask the topic's owner to subscribe you again."
                .into(),
        )),
        _ => {}
    }
    if s.confirm_expires_at.is_none_or(|at| at <= now) {
        return Err(DomainError::Conflict("This confirmation link has expired (links are valid for 48 hours). Ask the topic's owner to request confirmation again.".into()));
    }
    let mut am: subscription::ActiveModel = s.clone().into();
    am.status = Set("confirmed".into());
    am.confirmed_at = Set(Some(now));
    subscription::Entity::update(am).exec(&txn).await?;
    let actor = Actor::new(format!("endpoint {}", s.endpoint), source_ip);
    note(&txn, now, &actor, &t, "subscription.confirm", format!("{} {}", s.protocol, s.endpoint)).await?;
    txn.commit().await?;
    Ok(outcome(&s, &t, false))
}

/// Follows an unsubscribe link: the subscription becomes Canceled.
pub async fn unsubscribe(ctx: &Ctx, token: &str, source_ip: &str) -> DomainResult<LinkOutcome> {
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let (s, t) = by_token(&txn, Link::Unsubscribe, token).await?;
    if s.status == "canceled" {
        return Ok(outcome(&s, &t, true));
    }
    let mut am: subscription::ActiveModel = s.clone().into();
    am.status = Set("canceled".into());
    am.canceled_at = Set(Some(now));
    am.confirm_token_hash = Set(None);
    subscription::Entity::update(am).exec(&txn).await?;
    let actor = Actor::new(format!("endpoint {}", s.endpoint), source_ip);
    note(&txn, now, &actor, &t, "subscription.cancel", format!("{} {}", s.protocol, s.endpoint)).await?;
    txn.commit().await?;
    Ok(outcome(&s, &t, false))
}

/// Publishes a message to every Confirmed endpoint of a topic. Returns how many messages were
/// queued. Unconfirmed and canceled endpoints get nothing.
pub async fn publish(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    topic_id: Uuid,
    subject: &str,
    message: &str,
) -> DomainResult<usize> {
    let t = topics::get(ctx, caller, topic_id).await?;
    let subject = subject.trim();
    let message = message.trim();
    let mut errors = vec![];
    if subject.chars().count() > 512 || subject.chars().any(|c| c.is_control()) {
        errors.push(FieldError::new("subject", "must be one line of at most 512 characters"));
    }
    if message.is_empty() {
        errors.push(FieldError::new("message", "is required"));
    } else if message.len() > 10_000 {
        errors.push(FieldError::new("message", "must be at most 10,000 bytes"));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let subject = if subject.is_empty() { t.display_name.as_str() } else { subject };
    deliver_to_topic(ctx, actor, &t, subject, message).await
}

/// Queues one message per Confirmed endpoint of the topic, in one transaction.
pub async fn deliver_to_topic(
    ctx: &Ctx,
    actor: &Actor,
    t: &topic::Model,
    subject: &str,
    message: &str,
) -> DomainResult<usize> {
    let now: DateTime<Utc> = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let confirmed = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(t.id))
        .filter(subscription::Column::Status.eq("confirmed"))
        .all(&txn)
        .await?;
    for s in &confirmed {
        let Some(ch) = channel(&s.protocol) else { continue };
        let unsubscribe = new_unsubscribe_token(&txn, s.id, now).await?;
        let (_, unsubscribe_url) = links(ctx, None, &unsubscribe);
        outbox::enqueue(
            &txn,
            now,
            messages::topic_message(&info(t), ch, &s.endpoint, subject, message, &unsubscribe_url),
        )
        .await?;
    }
    note(&txn, now, actor, &t, "topic.publish", format!("{} recipients", confirmed.len())).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(confirmed.len())
}
