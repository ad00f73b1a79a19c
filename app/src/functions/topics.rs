//! Notification topics and their subscriptions (Simple Message Notification).

use crate::models::{AppError, LinkOutcome, SubscriptionRow, TopicRow};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use super::super::ssr::{actor, caller, ctx, parse_id, source_ip};
}

#[server(prefix = "/api", endpoint = "topics/list")]
pub async fn list_topics(search: String) -> Result<Vec<TopicRow>, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let topics = domain::topics::summaries(&ctx, &caller, &search).await?;
    Ok(topics.into_iter().map(|s| topic_row(s.topic, s.total, s.confirmed)).collect())
}

#[cfg(feature = "ssr")]
fn topic_row(t: domain::entities::topic::Model, subscriptions: u64, confirmed: u64) -> TopicRow {
    TopicRow {
        id: t.id,
        name: t.name,
        display_name: t.display_name,
        urn: t.urn,
        created: t.created_at,
        subscriptions,
        confirmed,
    }
}

#[server(prefix = "/api", endpoint = "topics/get")]
pub async fn get_topic(id: String) -> Result<TopicRow, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let t = domain::topics::get(&ctx, &caller, ssr::parse_id(&id, "topic")?).await?;
    Ok(topic_row(t, 0, 0))
}

#[server(prefix = "/api", endpoint = "topics/create")]
pub async fn create_topic(name: String, display_name: String) -> Result<String, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    // Not an admin: refused before the names are read.
    caller.admin_tenant()?;
    let new = domain::topics::NewTopic::parse(&name, &display_name)?;
    let actor = ssr::actor(&caller).await;
    let t = domain::topics::create(&ctx, &caller, &actor, &new).await?;
    Ok(t.id.to_string())
}

#[server(prefix = "/api", endpoint = "topics/delete")]
pub async fn delete_topic(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    domain::topics::delete(&ctx, &caller, &actor, ssr::parse_id(&id, "topic")?).await?;
    Ok(())
}

#[server(prefix = "/api", endpoint = "topics/subscriptions")]
pub async fn list_subscriptions(topic_id: String) -> Result<Vec<SubscriptionRow>, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let subs = domain::subscriptions::list(&ctx, &caller, ssr::parse_id(&topic_id, "topic")?).await?;
    subs.into_iter()
        .map(|s| {
            Ok(SubscriptionRow {
                id: s.id,
                protocol: s.protocol,
                endpoint: s.endpoint,
                remark: s.remark,
                status: s.status,
                created: s.created_at,
            })
        })
        .collect()
}

/// Adds the endpoints typed one per line (at most 10), all with the same protocol and remark.
#[server(prefix = "/api", endpoint = "topics/subscribe")]
pub async fn add_subscriptions(
    topic_id: String,
    protocol: String,
    endpoints: String,
    remark: String,
) -> Result<usize, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let list: Vec<domain::subscriptions::NewEndpoint> = endpoints
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|endpoint| domain::subscriptions::NewEndpoint {
            protocol: protocol.clone(),
            endpoint: endpoint.to_owned(),
            remark: remark.clone(),
        })
        .collect();
    let added = domain::subscriptions::add(&ctx, &caller, &actor, ssr::parse_id(&topic_id, "topic")?, &list).await?;
    Ok(added.len())
}

#[server(prefix = "/api", endpoint = "subscriptions/request_confirmation")]
pub async fn request_confirmation(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    domain::subscriptions::request_confirmation(&ctx, &caller, &actor, ssr::parse_id(&id, "subscription")?).await?;
    Ok(())
}

#[server(prefix = "/api", endpoint = "subscriptions/delete")]
pub async fn delete_subscription(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    domain::subscriptions::delete(&ctx, &caller, &actor, ssr::parse_id(&id, "subscription")?).await?;
    Ok(())
}

/// Sends a message to every confirmed endpoint of the topic. Returns how many.
#[server(prefix = "/api", endpoint = "topics/publish")]
pub async fn publish_message(topic_id: String, subject: String, message: String) -> Result<usize, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    Ok(domain::subscriptions::publish(&ctx, &caller, &actor, ssr::parse_id(&topic_id, "topic")?, &subject, &message)
        .await?)
}

#[cfg(feature = "ssr")]
fn outcome(o: domain::subscriptions::LinkOutcome) -> Result<LinkOutcome, AppError> {
    Ok(LinkOutcome {
        topic_name: o.topic_name,
        topic_display_name: o.topic_display_name,
        protocol: o.protocol,
        endpoint: o.endpoint,
        already: o.already,
    })
}

/// Public: what a confirmation (`kind` confirm) or unsubscribe (`kind` unsubscribe) link is
/// about, for the page a GET of the link shows. Changes nothing.
#[server(prefix = "/api", endpoint = "public/link")]
pub async fn preview_link(kind: String, token: String) -> Result<LinkOutcome, AppError> {
    use domain::subscriptions::Link;
    let ctx = ssr::ctx()?;
    let link = match kind.as_str() {
        "confirm" => Link::Confirm,
        "unsubscribe" => Link::Unsubscribe,
        _ => return Err(domain::DomainError::NotFound("link").into()),
    };
    outcome(domain::subscriptions::preview(&ctx, link, &token).await?)
}

/// After a plain form post (no wasm yet) the browser goes back to the link's page, which shows
/// the new state; the app shows the returned outcome itself.
#[cfg(feature = "ssr")]
fn back_to(page: &str, token: &str) {
    if crate::functions::auth::plain_form_post() {
        // Only a token as we issue them goes back into the URL.
        let token = if token.len() <= 100 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            token
        } else {
            ""
        };
        leptos_axum::redirect(&format!("{page}?token={token}"));
    }
}

/// Public: the confirmation page's button. No sign-in; the token is the proof.
#[server(prefix = "/api", endpoint = "public/confirm")]
pub async fn confirm_subscription(token: String) -> Result<LinkOutcome, AppError> {
    let ctx = ssr::ctx()?;
    let ip = ssr::source_ip().await;
    back_to("/smn/confirm", &token);
    outcome(domain::subscriptions::confirm(&ctx, &token, &ip).await?)
}

/// Public: the unsubscribe page's button (the link is in every message).
#[server(prefix = "/api", endpoint = "public/unsubscribe")]
pub async fn unsubscribe(token: String) -> Result<LinkOutcome, AppError> {
    let ctx = ssr::ctx()?;
    let ip = ssr::source_ip().await;
    back_to("/smn/unsubscribe", &token);
    outcome(domain::subscriptions::unsubscribe(&ctx, &token, &ip).await?)
}
