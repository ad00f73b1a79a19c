//! Subscriptions: SMS or email endpoints of a topic. A new one is Unconfirmed until its
//! endpoint confirms it from the confirmation link (valid 48 hours); the unsubscribe link cancels
//! it. Nothing is ever delivered to an endpoint that is not Confirmed.
//!
//! The links' pages only show what will happen: a GET (a mail scanner, a chat app's link
//! preview) changes nothing; the page's button (a POST) does. Confirmation messages are limited
//! per endpoint across all topics and tenants, counted in `confirmation_sends`, which outlives
//! subscriptions.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{confirmation_send, subscription, topic, unsubscribe_token, user},
    error::{DomainError, DomainResult, FieldError},
    messages::{self, TopicInfo},
    outbox, tokens, topics,
    validate::{Email, Phone},
};
use chrono::{DateTime, Duration, Utc};
use proto::{Protocol, SubscriptionStatus};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

pub const MAX_ENDPOINTS_AT_ONCE: usize = 10;
pub const CONFIRMATION_VALID_FOR: Duration = Duration::hours(48);
/// Confirmation messages per endpoint, whatever sent them (an add, a resend) and for whichever
/// topic or tenant: SMN's limits.
pub const EMAIL_CONFIRMATIONS_PER_HOUR: u64 = 20;
pub const EMAIL_CONFIRMATIONS_PER_2_DAYS: u64 = 40;
pub const SMS_CONFIRMATIONS_PER_HOUR: u64 = 10;
pub const SMS_CONFIRMATIONS_PER_2_DAYS: u64 = 20;

#[derive(Clone, Debug)]
pub struct NewEndpoint {
    /// `sms` or `email`.
    pub protocol: String,
    pub endpoint: String,
    pub remark: String,
}

/// Where a subscription's messages go, parsed: a phone number for SMS, an address for email.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Sms(Phone),
    Email(Email),
}

impl Endpoint {
    /// `endpoint` for `protocol`; the error is the endpoint's rule.
    pub fn parse(protocol: Protocol, endpoint: &str) -> Result<Endpoint, String> {
        match protocol {
            Protocol::Email => Email::parse(endpoint).map(Endpoint::Email),
            Protocol::Sms => Phone::parse(endpoint).map(Endpoint::Sms),
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Endpoint::Sms(_) => Protocol::Sms,
            Endpoint::Email(_) => Protocol::Email,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Endpoint::Sms(p) => p.as_str(),
            Endpoint::Email(e) => e.as_str(),
        }
    }

    pub fn into_string(self) -> String {
        match self {
            Endpoint::Sms(p) => p.into_inner(),
            Endpoint::Email(e) => e.into_inner(),
        }
    }
}

pub(crate) fn links(ctx: &Ctx, confirm: Option<&str>, unsubscribe: &str) -> (String, String) {
    let base = ctx.public_url.trim_end_matches('/');
    (
        confirm.map(|t| format!("{base}/smn/confirm?token={t}")).unwrap_or_default(),
        format!("{base}/smn/unsubscribe?token={unsubscribe}"),
    )
}

/// Counts one more confirmation message to `endpoint`, or says which limit it would pass.
/// Callers hold a write transaction; a lock per endpoint keeps two transactions from both
/// taking the last message allowed.
async fn count_confirmation(
    txn: &DatabaseTransaction,
    protocol: Protocol,
    endpoint: &str,
    now: DateTime<Utc>,
) -> DomainResult<Result<(), String>> {
    crate::db::lock_key(txn, &format!("confirmation:{endpoint}")).await?;
    let window = Duration::hours(48);
    // Older sends no longer count; they go, so the table stays small.
    confirmation_send::Entity::delete_many()
        .filter(confirmation_send::Column::Endpoint.eq(endpoint))
        .filter(confirmation_send::Column::SentAt.lte(now - window))
        .exec(txn)
        .await?;
    let since = |d: Duration| {
        confirmation_send::Entity::find()
            .filter(confirmation_send::Column::Endpoint.eq(endpoint))
            .filter(confirmation_send::Column::SentAt.gt(now - d))
            .count(txn)
    };
    let (hour, two_days) = (since(Duration::hours(1)).await?, since(window).await?);
    let (kind, per_hour, per_2_days) = match protocol {
        Protocol::Email => ("email", EMAIL_CONFIRMATIONS_PER_HOUR, EMAIL_CONFIRMATIONS_PER_2_DAYS),
        Protocol::Sms => ("SMS", SMS_CONFIRMATIONS_PER_HOUR, SMS_CONFIRMATIONS_PER_2_DAYS),
    };
    let limits = format!("at most {per_hour} an hour and {per_2_days} in 2 days for {kind}");
    if hour >= per_hour {
        return Ok(Err(format!(
            "{endpoint} has been sent {hour} confirmation requests in the last hour ({limits}); try again later"
        )));
    }
    if two_days >= per_2_days {
        return Ok(Err(format!(
            "{endpoint} has been sent {two_days} confirmation requests in the last 2 days ({limits}); try again later"
        )));
    }
    confirmation_send::Entity::insert(confirmation_send::ActiveModel {
        id: Set(Uuid::new_v4()),
        protocol: Set(protocol),
        endpoint: Set(endpoint.to_owned()),
        sent_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(Ok(()))
}

/// Queues the confirmation message of a subscription with a new confirmation token (whose
/// hash the caller stores) and a new unsubscribe token. The tokens are the message's secrets.
async fn queue_confirmation(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    t: &topic::Model,
    s: &subscription::Model,
    confirm: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let unsubscribe = new_unsubscribe_token(txn, s.id, now).await?;
    let (confirm_url, unsubscribe_url) = links(ctx, Some(confirm), &unsubscribe);
    let m = messages::confirmation(&info(t), s.protocol.into(), &s.endpoint, &confirm_url, &unsubscribe_url);
    outbox::enqueue(txn, now, outbox::NewMessage { secrets: vec![confirm.to_owned(), unsubscribe], ..m }).await?;
    Ok(())
}

/// A new unsubscribe link's token for this subscription; its hash is kept.
pub(crate) async fn new_unsubscribe_token(
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
    action: AuditAction,
    detail: String,
) -> DomainResult<()> {
    audit::record(txn, now, actor, Entry { tenant_id: Some(t.tenant_id), action, target: t.urn.clone(), detail }).await
}

pub(crate) fn info(t: &topic::Model) -> TopicInfo<'_> {
    TopicInfo { tenant_id: t.tenant_id, name: &t.name, display_name: &t.display_name }
}

/// Adds up to 10 endpoints to a topic. Each is checked on its own and each bad one gets its own
/// error (a malformed endpoint, a duplicate, one past its confirmation-message limit); if any
/// is bad, nothing is saved. Each new subscription gets a confirmation message.
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
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let existing = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(t.id))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Canceled))
        .all(&txn)
        .await?;

    let mut errors: Vec<(usize, FieldError)> = vec![];
    let mut clean: Vec<(usize, Endpoint, String)> = vec![];
    for (i, e) in endpoints.iter().enumerate() {
        let field = format!("endpoints[{i}]");
        let endpoint = e.endpoint.trim().to_owned();
        let Some(protocol) = Protocol::parse(&e.protocol.trim().to_lowercase()) else {
            errors.push((
                i,
                FieldError::new(format!("{field}.protocol"), format!("{:?} must be sms or email", e.protocol)),
            ));
            continue;
        };
        let endpoint = match Endpoint::parse(protocol, &endpoint) {
            Ok(parsed) => parsed,
            Err(m) => {
                // As stored, so an email address shows lower-case.
                let shown = if protocol == Protocol::Email { endpoint.to_lowercase() } else { endpoint };
                errors.push((i, FieldError::new(format!("{field}.endpoint"), format!("{shown:?} {m}"))));
                continue;
            }
        };
        if e.remark.chars().count() > 128 {
            errors.push((i, FieldError::new(format!("{field}.remark"), "must be at most 128 characters")));
            continue;
        }
        let duplicate = clean.iter().any(|(_, ep, _)| *ep == endpoint)
            || existing.iter().any(|s| s.protocol == protocol && s.endpoint == endpoint.as_str());
        if duplicate {
            errors.push((i, FieldError::new(format!("{field}.endpoint"), already_subscribed(endpoint.as_str()))));
            continue;
        }
        clean.push((i, endpoint, e.remark.trim().to_owned()));
    }
    // The limits, in a fixed order of endpoints so that concurrent batches take their locks
    // in the same order.
    let mut by_endpoint: Vec<&(usize, Endpoint, String)> = clean.iter().collect();
    by_endpoint.sort_by(|a, b| a.1.as_str().cmp(b.1.as_str()));
    for (i, endpoint, _) in by_endpoint {
        if let Err(m) = count_confirmation(&txn, endpoint.protocol(), endpoint.as_str(), now).await? {
            errors.push((*i, FieldError::new(format!("endpoints[{i}].endpoint"), m)));
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|(i, _)| *i);
        return Err(DomainError::Invalid(errors.into_iter().map(|(_, e)| e).collect()));
    }

    let mut out = vec![];
    for (i, parsed, remark) in clean {
        let (protocol, endpoint) = (parsed.protocol(), parsed.into_string());
        let (confirm, confirm_hash) = tokens::new_token();
        let model = subscription::Entity::insert(subscription::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(t.tenant_id),
            topic_id: Set(t.id),
            protocol: Set(protocol),
            endpoint: Set(endpoint.clone()),
            remark: Set(remark),
            status: Set(SubscriptionStatus::Unconfirmed),
            confirm_token_hash: Set(Some(confirm_hash)),
            confirm_expires_at: Set(Some(now + CONFIRMATION_VALID_FOR)),
            created_at: Set(now),
            confirmed_at: Set(None),
            canceled_at: Set(None),
        })
        .exec_with_returning(&txn)
        .await
        .map_err(|e| {
            // A concurrent add of the same endpoint committed first (PostgreSQL).
            if crate::db::is_unique_violation(&e) {
                DomainError::Invalid(vec![FieldError::new(
                    format!("endpoints[{i}].endpoint"),
                    already_subscribed(&endpoint),
                )])
            } else {
                e.into()
            }
        })?;
        queue_confirmation(ctx, &txn, &t, &model, &confirm, now).await?;
        note(&txn, now, actor, &t, AuditAction::SubscriptionCreate, format!("{protocol} {endpoint}")).await?;
        out.push(model);
    }
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(out)
}

fn already_subscribed(endpoint: &str) -> String {
    format!("{endpoint} is already subscribed to this topic")
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

/// Sends a new confirmation message to an unconfirmed endpoint, within the endpoint's limits.
pub async fn request_confirmation(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let (s, t) = get(ctx, caller, id).await?;
    if s.status != SubscriptionStatus::Unconfirmed {
        return Err(DomainError::Conflict(format!(
            "{} is {}; only unconfirmed subscriptions can be asked to confirm",
            s.endpoint, s.status
        )));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    if let Err(m) = count_confirmation(&txn, s.protocol, &s.endpoint, now).await? {
        return Err(DomainError::RateLimited(m));
    }
    let (confirm, confirm_hash) = tokens::new_token();
    let res = subscription::Entity::update_many()
        .col_expr(subscription::Column::ConfirmTokenHash, Expr::value(Some(confirm_hash)))
        .col_expr(subscription::Column::ConfirmExpiresAt, Expr::value(Some(now + CONFIRMATION_VALID_FOR)))
        .filter(subscription::Column::Id.eq(s.id))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Unconfirmed))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(DomainError::Conflict(format!("{} is no longer unconfirmed", s.endpoint)));
    }
    queue_confirmation(ctx, &txn, &t, &s, &confirm, now).await?;
    note(&txn, now, actor, &t, AuditAction::SubscriptionRequestConfirmation, s.endpoint.clone()).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(())
}

/// Deletes a subscription. The last confirmed endpoint of a topic that servers use for 2FA
/// login codes is kept, and the error names the servers: deleting it would leave their logins
/// with nobody to receive the codes.
pub async fn delete(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let (s, t) = get(ctx, caller, id).await?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    topics::lock(&txn, t.id).await?;
    let s = subscription::Entity::find_by_id(s.id).one(&txn).await?.ok_or(DomainError::NotFound("subscription"))?;
    if s.status == SubscriptionStatus::Confirmed && confirmed_left(&txn, t.id, Some(s.id)).await? == 0 {
        let servers = topics::code_servers(&txn, t.id).await?;
        if !servers.is_empty() {
            return Err(DomainError::Conflict(format!(
                "topic {} is the 2FA topic of {}: add and confirm another endpoint first, or change those servers' topic",
                t.name,
                topics::some_names(&servers)
            )));
        }
    }
    subscription::Entity::delete_by_id(s.id).exec(&txn).await?;
    let detail = format!("{} {}", s.protocol, s.endpoint);
    note(&txn, ctx.clock.now(), actor, &t, AuditAction::SubscriptionDelete, detail).await?;
    txn.commit().await?;
    Ok(())
}

/// Confirmed endpoints of a topic, not counting `except`.
async fn confirmed_left<C: ConnectionTrait>(conn: &C, topic_id: Uuid, except: Option<Uuid>) -> DomainResult<u64> {
    let mut q = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(topic_id))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Confirmed));
    if let Some(id) = except {
        q = q.filter(subscription::Column::Id.ne(id));
    }
    Ok(q.count(conn).await?)
}

/// An endpoint as the public link pages show it: enough to recognise, not to learn it from a
/// forwarded link (`o***@acme.example`, `+86*******0001`).
pub fn mask_endpoint(protocol: Protocol, endpoint: &str) -> String {
    if protocol == Protocol::Email {
        if let Some((local, domain)) = endpoint.split_once('@') {
            let first: String = local.chars().take(1).collect();
            return format!("{first}***@{domain}");
        }
    }
    let chars: Vec<char> = endpoint.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// What a confirmation or unsubscribe link is about, or what it did, for its public page.
#[derive(Clone, Debug)]
pub struct LinkOutcome {
    pub topic_name: String,
    pub topic_display_name: String,
    pub protocol: Protocol,
    /// Masked (see [`mask_endpoint`]).
    pub endpoint: String,
    /// Shown before the button: the subscription is already confirmed (or canceled), so there
    /// is nothing to do. After the button: it was so before, nothing changed.
    pub already: bool,
}

fn outcome(s: &subscription::Model, t: &topic::Model, already: bool) -> LinkOutcome {
    LinkOutcome {
        topic_name: t.name.clone(),
        topic_display_name: t.display_name.clone(),
        protocol: s.protocol,
        endpoint: mask_endpoint(s.protocol, &s.endpoint),
        already,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Confirm,
    Unsubscribe,
}

async fn by_token<C: ConnectionTrait>(
    conn: &C,
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
            subscription::Entity::find().filter(subscription::Column::ConfirmTokenHash.eq(hash)).one(conn).await?
        }
        Link::Unsubscribe => match unsubscribe_token::Entity::find_by_id(hash).one(conn).await? {
            Some(u) => subscription::Entity::find_by_id(u.subscription_id).one(conn).await?,
            None => None,
        },
    }
    .ok_or_else(not_found)?;
    let t = topic::Entity::find_by_id(s.topic_id).one(conn).await?.ok_or_else(not_found)?;
    Ok((s, t))
}

/// Why a confirmation link cannot confirm, if it cannot.
fn confirm_refusal(s: &subscription::Model, now: DateTime<Utc>) -> Option<DomainError> {
    match s.status {
        SubscriptionStatus::Confirmed => None,
        SubscriptionStatus::Canceled => Some(DomainError::Conflict(
            "This subscription was canceled, so it cannot be confirmed. Ask the topic's owner to subscribe you again."
                .into(),
        )),
        _ if s.confirm_expires_at.is_none_or(|at| at <= now) => Some(DomainError::Conflict(
            "This confirmation link has expired (links are valid for 48 hours). Ask the topic's owner to request confirmation again."
                .into(),
        )),
        _ => None,
    }
}

/// What following a link would do, for the page a GET shows. Reads only: the token stays
/// valid and nothing changes, whoever fetches the page (a mail scanner, a link preview).
pub async fn preview(ctx: &Ctx, link: Link, token: &str) -> DomainResult<LinkOutcome> {
    let (s, t) = by_token(&ctx.db, link, token).await?;
    match link {
        Link::Confirm => {
            if let Some(e) = confirm_refusal(&s, ctx.clock.now()) {
                return Err(e);
            }
            Ok(outcome(&s, &t, s.status == SubscriptionStatus::Confirmed))
        }
        Link::Unsubscribe => Ok(outcome(&s, &t, s.status == SubscriptionStatus::Canceled)),
    }
}

/// The confirmation page's button: the endpoint becomes Confirmed, if the link is still valid.
/// The token is looked up before any write transaction, so unknown tokens cost one read.
pub async fn confirm(ctx: &Ctx, token: &str, source_ip: &str) -> DomainResult<LinkOutcome> {
    let (s, t) = by_token(&ctx.db, Link::Confirm, token).await?;
    let now = ctx.clock.now();
    if let Some(e) = confirm_refusal(&s, now) {
        return Err(e);
    }
    if s.status == SubscriptionStatus::Confirmed {
        return Ok(outcome(&s, &t, true));
    }
    let txn = crate::db::write_txn(&ctx.db).await?;
    // Only if still unconfirmed with this very token, unexpired: a concurrent unsubscribe or
    // resend wins.
    let res = subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value(SubscriptionStatus::Confirmed))
        .col_expr(subscription::Column::ConfirmedAt, Expr::value(Some(now)))
        .filter(subscription::Column::Id.eq(s.id))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Unconfirmed))
        .filter(subscription::Column::ConfirmTokenHash.eq(tokens::hash_token(token)))
        .filter(subscription::Column::ConfirmExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        drop(txn);
        let (s, _) = by_token(&ctx.db, Link::Confirm, token).await?;
        return match confirm_refusal(&s, now) {
            Some(e) => Err(e),
            None => Ok(outcome(&s, &t, true)),
        };
    }
    let actor = Actor::new(format!("endpoint {}", s.endpoint), source_ip);
    note(&txn, now, &actor, &t, AuditAction::SubscriptionConfirm, format!("{} {}", s.protocol, s.endpoint)).await?;
    txn.commit().await?;
    Ok(outcome(&s, &t, false))
}

/// The unsubscribe page's button: the subscription becomes Canceled. It is the recipient's
/// right, so it is honoured even when it leaves a topic that servers use for 2FA login codes
/// with nobody to receive them; then the tenant's admins are told by email, in the same
/// transaction.
pub async fn unsubscribe(ctx: &Ctx, token: &str, source_ip: &str) -> DomainResult<LinkOutcome> {
    let (s, t) = by_token(&ctx.db, Link::Unsubscribe, token).await?;
    if s.status == SubscriptionStatus::Canceled {
        return Ok(outcome(&s, &t, true));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    topics::lock(&txn, t.id).await?;
    let res = subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value(SubscriptionStatus::Canceled))
        .col_expr(subscription::Column::CanceledAt, Expr::value(Some(now)))
        .col_expr(subscription::Column::ConfirmTokenHash, Expr::value(Option::<String>::None))
        .filter(subscription::Column::Id.eq(s.id))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Canceled))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(outcome(&s, &t, true));
    }
    let actor = Actor::new(format!("endpoint {}", s.endpoint), source_ip);
    note(&txn, now, &actor, &t, AuditAction::SubscriptionCancel, format!("{} {}", s.protocol, s.endpoint)).await?;
    if s.status == SubscriptionStatus::Confirmed && confirmed_left(&txn, t.id, None).await? == 0 {
        let servers = topics::code_servers(&txn, t.id).await?;
        if !servers.is_empty() {
            alert_admins(ctx, &txn, &actor, &t, &servers, now).await?;
        }
    }
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(outcome(&s, &t, false))
}

/// Emails every admin of the topic's tenant that the topic's servers have nobody to receive
/// their login codes.
async fn alert_admins(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    actor: &Actor,
    t: &topic::Model,
    servers: &[String],
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let admins = user::Entity::find()
        .filter(user::Column::TenantId.eq(t.tenant_id))
        .filter(user::Column::Role.eq(crate::Role::TenantAdmin.as_str()))
        .all(txn)
        .await?;
    let url = format!("{}/hss/two-factor", ctx.public_url.trim_end_matches('/'));
    for a in &admins {
        outbox::enqueue(txn, now, messages::topic_without_recipients(t.tenant_id, &a.email, &t.name, servers, &url))
            .await?;
    }
    audit::record(
        txn,
        now,
        actor,
        Entry {
            tenant_id: Some(t.tenant_id),
            action: AuditAction::TopicNoRecipients,
            target: t.urn.clone(),
            detail: format!("2FA servers without a code recipient: {}", topics::some_names(servers)),
        },
    )
    .await
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
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Confirmed))
        .all(&txn)
        .await?;
    for s in &confirmed {
        let ch = s.protocol.into();
        let unsubscribe = new_unsubscribe_token(&txn, s.id, now).await?;
        let (_, unsubscribe_url) = links(ctx, None, &unsubscribe);
        let m = messages::topic_message(&info(t), ch, &s.endpoint, subject, message, &unsubscribe_url);
        outbox::enqueue(&txn, now, outbox::NewMessage { secrets: vec![unsubscribe], ..m }).await?;
    }
    note(
        &txn,
        now,
        actor,
        t,
        AuditAction::TopicPublish,
        format!("{} recipient{}", confirmed.len(), if confirmed.len() == 1 { "" } else { "s" }),
    )
    .await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(confirmed.len())
}

#[cfg(test)]
mod tests {
    use super::{mask_endpoint, Protocol};

    #[test]
    fn endpoints_are_masked_for_the_link_pages() {
        assert_eq!(mask_endpoint(Protocol::Email, "ops@acme.example"), "o***@acme.example");
        assert_eq!(mask_endpoint(Protocol::Sms, "+8613800000005"), "+86*******0005");
        assert_eq!(mask_endpoint(Protocol::Sms, "+123456"), "*******");
        assert_eq!(mask_endpoint(Protocol::Email, "not-an-address"), "not*******ress");
    }
}
