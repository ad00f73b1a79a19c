//! SMN v2 topics and subscriptions: CreateTopic, ListTopics, DeleteTopic, AddSubscription,
//! ListSubscriptionsByTopic, ListSubscriptions and CancelSubscription, with SMN's paths and
//! field names. A topic is addressed by its `topic_urn`, a subscription by its
//! `subscription_urn`; another tenant's URN is "not found".

use super::{
    auth::ApiCaller,
    contract::{
        self, required, AddSubscriptionRequest, AddSubscriptionResponse, CreateTopicRequest, CreateTopicResponse,
        ListSubscriptionsResponse, ListTopicsResponse, RequestIdResponse, SubscriptionItem, TopicItem,
    },
    error::ApiError,
    params::{ApiPath, Query},
};
use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::StatusCode,
    Extension, Json,
};
use domain::{
    entities::{subscription, topic},
    subscriptions::{self, NewEndpoint},
    topics, Ctx, DomainError, FieldError,
};

/// SMN pages lists by at most 100.
const MAX_LIMIT: u64 = 100;

type Answer<T> = Result<(StatusCode, Json<T>), ApiError>;

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// SMN's subscription status numbers: 0 unconfirmed, 1 confirmed, 3 canceled.
fn status_code(status: proto::SubscriptionStatus) -> i64 {
    match status {
        proto::SubscriptionStatus::Confirmed => 1,
        proto::SubscriptionStatus::Canceled => 3,
        proto::SubscriptionStatus::Unconfirmed => 0,
    }
}

fn topic_item(t: &topic::Model) -> TopicItem {
    TopicItem {
        topic_urn: t.urn.clone(),
        name: t.name.clone(),
        display_name: t.display_name.clone(),
        push_policy: 0,
        enterprise_project_id: "0",
        topic_id: t.id.simple().to_string(),
        create_time: time(t.created_at),
        update_time: time(t.created_at),
    }
}

fn subscription_item(s: &subscription::Model, t: &topic::Model, owner: &str) -> SubscriptionItem {
    SubscriptionItem {
        topic_urn: t.urn.clone(),
        protocol: s.protocol,
        subscription_urn: subscriptions::urn(&t.urn, s.id),
        owner: owner.to_owned(),
        endpoint: s.endpoint.clone(),
        remark: s.remark.clone(),
        status: status_code(s.status),
    }
}

/// A page of `items` as `offset`/`limit` ask.
fn page<T>(items: Vec<T>, q: &Query) -> Result<(u64, Vec<T>), ApiError> {
    let offset = q.int("offset", 0, 0..=u32::MAX as u64)?;
    let limit = q.int("limit", MAX_LIMIT, 1..=MAX_LIMIT)?;
    let total = items.len() as u64;
    Ok((total, items.into_iter().skip(offset as usize).take(limit as usize).collect()))
}

pub async fn create_topic(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    body: Bytes,
) -> Answer<CreateTopicResponse> {
    let body: CreateTopicRequest = contract::read(&body)?;
    let name = required("name", body.name)?.0;
    let display_name = body.display_name.map(|d| d.0).unwrap_or_default();
    let new = topics::NewTopic::parse(&name, &display_name)?;
    let t = topics::create(&ctx, &api.caller, &api.actor, &new).await?;
    Ok((StatusCode::CREATED, Json(CreateTopicResponse { request_id: api.request_id, topic_urn: t.urn })))
}

pub async fn list_topics(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    RawQuery(raw): RawQuery,
) -> Answer<ListTopicsResponse> {
    let q = Query::parse(raw.as_deref());
    let mut found = topics::search(&ctx, &api.caller, "").await?;
    if let Some(name) = q.str("name") {
        found.retain(|t| t.name == name);
    }
    if let Some(id) = q.str("topic_id") {
        found.retain(|t| t.id.simple().to_string() == id || t.id.to_string() == id);
    }
    let contains = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
    if let Some(text) = q.str("fuzzy_name") {
        found.retain(|t| contains(&t.name, text));
    }
    if let Some(text) = q.str("fuzzy_display_name") {
        found.retain(|t| contains(&t.display_name, text));
    }
    let (total, shown) = page(found, &q)?;
    Ok((
        StatusCode::OK,
        Json(ListTopicsResponse {
            request_id: api.request_id,
            topic_count: total,
            topics: shown.iter().map(topic_item).collect(),
        }),
    ))
}

pub async fn delete_topic(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    ApiPath((_, topic_urn)): ApiPath<(String, String)>,
) -> Answer<RequestIdResponse> {
    let t = topics::get_by_urn(&ctx, &api.caller, &topic_urn).await?;
    topics::delete(&ctx, &api.caller, &api.actor, t.id).await?;
    Ok((StatusCode::OK, Json(RequestIdResponse { request_id: api.request_id })))
}

/// The rules name the fields of a batch (`endpoints[0].protocol`); this call adds one
/// endpoint, whose fields are plain `protocol`, `endpoint`, `remark`.
fn single_endpoint_fields(e: DomainError) -> DomainError {
    let rename = |f: String| f.strip_prefix("endpoints[0].").map(str::to_owned).unwrap_or(f);
    match e {
        DomainError::Invalid(errors) => DomainError::Invalid(
            errors.into_iter().map(|e| FieldError { field: rename(e.field), message: e.message }).collect(),
        ),
        other => other,
    }
}

pub async fn add_subscription(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    ApiPath((_, topic_urn)): ApiPath<(String, String)>,
    body: Bytes,
) -> Answer<AddSubscriptionResponse> {
    let t = topics::get_by_urn(&ctx, &api.caller, &topic_urn).await?;
    let body: AddSubscriptionRequest = contract::read(&body)?;
    let endpoint = NewEndpoint {
        protocol: required("protocol", body.protocol)?.0,
        endpoint: required("endpoint", body.endpoint)?.0,
        remark: body.remark.map(|r| r.0).unwrap_or_default(),
    };
    let added =
        subscriptions::add(&ctx, &api.caller, &api.actor, t.id, &[endpoint]).await.map_err(single_endpoint_fields)?;
    let s = added.first().ok_or(ApiError::Internal)?;
    Ok((
        StatusCode::CREATED,
        Json(AddSubscriptionResponse {
            request_id: api.request_id,
            subscription_urn: subscriptions::urn(&t.urn, s.id),
        }),
    ))
}

pub async fn list_topic_subscriptions(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    ApiPath((_, topic_urn)): ApiPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer<ListSubscriptionsResponse> {
    let q = Query::parse(raw.as_deref());
    let t = topics::get_by_urn(&ctx, &api.caller, &topic_urn).await?;
    let mut subs = subscriptions::list(&ctx, &api.caller, t.id).await?;
    if let Some(text) = q.str("fuzzy_remark") {
        subs.retain(|s| s.remark.to_lowercase().contains(&text.to_lowercase()));
    }
    let (total, shown) = page(subs, &q)?;
    Ok((
        StatusCode::OK,
        Json(ListSubscriptionsResponse {
            request_id: api.request_id,
            subscription_count: total,
            subscriptions: shown.iter().map(|s| subscription_item(s, &t, &api.project_id)).collect(),
        }),
    ))
}

pub async fn list_subscriptions(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    RawQuery(raw): RawQuery,
) -> Answer<ListSubscriptionsResponse> {
    let q = Query::parse(raw.as_deref());
    let mut subs = subscriptions::list_for_tenant(&ctx, &api.caller).await?;
    if let Some(protocol) = q.str("protocol") {
        subs.retain(|(s, _)| s.protocol.as_str() == protocol);
    }
    if q.str("status").is_some() {
        let wanted = q.int("status", 0, 0..=4)? as i64;
        subs.retain(|(s, _)| status_code(s.status) == wanted);
    }
    if let Some(endpoint) = q.str("endpoint") {
        subs.retain(|(s, _)| s.endpoint.eq_ignore_ascii_case(endpoint));
    }
    if let Some(text) = q.str("fuzzy_remark") {
        subs.retain(|(s, _)| s.remark.to_lowercase().contains(&text.to_lowercase()));
    }
    let (total, shown) = page(subs, &q)?;
    Ok((
        StatusCode::OK,
        Json(ListSubscriptionsResponse {
            request_id: api.request_id,
            subscription_count: total,
            subscriptions: shown.iter().map(|(s, t)| subscription_item(s, t, &api.project_id)).collect(),
        }),
    ))
}

/// CancelSubscription (a delete). The rules keep the last confirmed endpoint of a topic that
/// servers use for 2FA login codes: 409, naming the servers.
pub async fn cancel_subscription(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    ApiPath((_, subscription_urn)): ApiPath<(String, String)>,
) -> Answer<RequestIdResponse> {
    let (s, _) = subscriptions::get_by_urn(&ctx, &api.caller, &subscription_urn).await?;
    subscriptions::delete(&ctx, &api.caller, &api.actor, s.id).await?;
    Ok((StatusCode::OK, Json(RequestIdResponse { request_id: api.request_id })))
}
