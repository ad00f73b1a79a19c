//! Web Push for the portal's Approvals page: the console's VAPID key (for
//! `PushManager.subscribe`), and the person's push subscriptions. End users only; the rules
//! are `domain::push::subscriptions`'.

use crate::models::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether the console sends Web Push, and the key a browser subscribes with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushInfo {
    /// The VAPID public key (base64url, uncompressed P-256 point); `None` when Web Push is off
    /// on this console (no `HOSTGUARD_VAPID_PRIVATE_KEY`).
    pub public_key: Option<String>,
}

/// A push subscription as its owner sees it: the push service, not the endpoint or keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscriptionRow {
    pub id: Uuid,
    pub service: String,
    pub added: DateTime<Utc>,
}

#[cfg(feature = "ssr")]
fn row(s: domain::push::subscriptions::Subscription) -> PushSubscriptionRow {
    PushSubscriptionRow { id: s.id, service: s.service, added: s.added_at }
}

#[server(prefix = "/api", endpoint = "portal/push/key")]
pub async fn web_push_key() -> Result<WebPushInfo, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    Ok(WebPushInfo { public_key: ctx.vapid_public_key.clone() })
}

#[server(prefix = "/api", endpoint = "portal/push/subscriptions")]
pub async fn push_subscriptions() -> Result<Vec<PushSubscriptionRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    Ok(domain::push::subscriptions::list(&ctx, &caller).await?.into_iter().map(row).collect())
}

/// Subscribes this browser: the fields of `PushSubscription.toJSON()` (`endpoint`,
/// `keys.p256dh`, `keys.auth`, base64url).
#[server(prefix = "/api", endpoint = "portal/push/subscribe")]
pub async fn subscribe_push(endpoint: String, p256dh: String, auth: String) -> Result<PushSubscriptionRow, AppError> {
    use super::ssr::{actor, caller};
    let (ctx, caller) = caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let actor = actor(&caller).await;
    Ok(row(domain::push::subscriptions::add(&ctx, &caller, &actor, &endpoint, &p256dh, &auth).await?))
}

#[server(prefix = "/api", endpoint = "portal/push/unsubscribe")]
pub async fn unsubscribe_push(id: String) -> Result<(), AppError> {
    use super::ssr::{actor, caller, parse_id};
    let (ctx, caller) = caller().await?;
    let id = parse_id(&id, "push subscription")?;
    let actor = actor(&caller).await;
    domain::push::subscriptions::remove(&ctx, &caller, &actor, id).await?;
    Ok(())
}
