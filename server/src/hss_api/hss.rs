//! HSS v5 two-factor login: ListTwoFactorLoginHost (`GET .../setting/two-factor-login/hosts`)
//! and SetTwoFactorLoginConfig (`PUT .../setting/two-factor-login/config`), over
//! `domain::two_factor`. `host_id` is the server's id; `topic_urn` names one of the tenant's
//! topics, and another tenant's is "not found".

use super::{
    auth::ApiCaller,
    contract::{
        self, required, ListTwoFactorLoginHostResponse, RefusedHost, SavedHost, SetTwoFactorLoginConfigRequest,
        SetTwoFactorLoginConfigResponse, TwoFactorLoginHost, UnchangedHost,
    },
    error::ApiError,
    params::Query,
};
use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::StatusCode,
    routing::{get, put},
    Extension, Json, Router,
};
use domain::{
    rollout::Method,
    topics,
    two_factor::{self, Action, ListQuery},
    Ctx, DomainError, FieldError,
};
use uuid::Uuid;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v5/{project_id}/setting/two-factor-login/hosts", get(list_hosts))
        .route("/v5/{project_id}/setting/two-factor-login/config", put(set_config))
}

type Answer<T> = Result<(StatusCode, Json<T>), ApiError>;

fn os_type(os: proto::OsType) -> &'static str {
    match os {
        proto::OsType::Windows => "Windows",
        proto::OsType::Linux => "Linux",
    }
}

async fn list_hosts(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    RawQuery(raw): RawQuery,
) -> Answer<ListTwoFactorLoginHostResponse> {
    let q = Query::parse(raw.as_deref());
    let limit = q.int("limit", 10, 1..=two_factor::MAX_LIMIT)?;
    let offset = q.int("offset", 0, 0..=u32::MAX as u64)?;
    let host_name = q.str("host_name").map(str::to_owned);
    if host_name.as_deref().is_some_and(|h| h.chars().count() > 128) {
        return Err(ApiError::bad_request("host_name", "must be at most 128 characters"));
    }
    let page =
        two_factor::list(&ctx, &api.caller, &ListQuery { search: host_name, offset, limit, ..Default::default() })
            .await?;
    let data_list = page
        .items
        .iter()
        .map(|row| {
            // The switch as saved (`Effective::configured`): the change on its way, else what
            // the agent acknowledged. Once nothing is on its way it is what the console's row
            // shows; a failed first enable is off, a failed change leaves the old setting.
            let in_force = row.effective.configured();
            TwoFactorLoginHost {
                host_id: row.server.id.to_string(),
                host_name: row.server.name.clone(),
                os_type: os_type(row.server.os_type),
                auth_switch: in_force.on,
                auth_type: in_force.method,
                topic_display_name: in_force.topic.as_ref().map(|t| t.display_name.clone()),
                topic_urn: in_force.topic.as_ref().map(|t| t.urn.clone()),
                // Every server here is one the tenant registered with HostGuard's agent.
                outside_host: false,
            }
        })
        .collect();
    Ok((StatusCode::OK, Json(ListTwoFactorLoginHostResponse { data_list, total_num: page.total })))
}

/// The rules' field names, as this API calls them.
fn api_fields(e: DomainError) -> DomainError {
    let rename = |f: String| match f.as_str() {
        "server_ids" => "host_id_list".to_owned(),
        "topic" => "topic_urn".to_owned(),
        _ => f,
    };
    match e {
        DomainError::Invalid(errors) => DomainError::Invalid(
            errors.into_iter().map(|e| FieldError { field: rename(e.field), message: e.message }).collect(),
        ),
        other => other,
    }
}

async fn set_config(
    State(ctx): State<Ctx>,
    Extension(api): Extension<ApiCaller>,
    body: Bytes,
) -> Answer<SetTwoFactorLoginConfigResponse> {
    let body: SetTwoFactorLoginConfigRequest = contract::read(&body)?;
    let enabled = required("enabled", body.enabled)?.0;
    let auth_type = body.auth_type.map(|t| t.0);
    let topic_urn = body.topic_urn.as_ref().map(|u| u.0.trim()).filter(|u| !u.is_empty());
    // HSS sends the topic's display name along for its console; the URN alone names the topic.
    let _ = body.topic_display_name;
    let hosts = required("host_id_list", body.host_id_list)?.0;
    if hosts.is_empty() {
        return Err(ApiError::Invalid("host_id_list: name at least one host".into()));
    }
    let method = match auth_type {
        None if enabled => return Err(ApiError::bad_request("auth_type", "is required to enable 2FA: sms or code")),
        None => None,
        Some(t) => {
            Some(Method::parse(&t).ok_or_else(|| ApiError::Invalid(format!("auth_type: {t:?} must be sms or code")))?)
        }
    };
    let mut unknown = vec![];
    let mut ids = vec![];
    for h in &hosts {
        match Uuid::try_parse(h.trim()) {
            Ok(id) => ids.push(id),
            Err(_) => unknown.push(h.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::Invalid(format!("host_id_list: no such host: {}", unknown.join(", "))));
    }
    let action = match (enabled, method) {
        (false, _) => Action::Disable,
        (true, Some(Method::Code)) => Action::EnableCode,
        (true, _) => {
            let urn =
                topic_urn.ok_or_else(|| ApiError::bad_request("topic_urn", "is required when auth_type is sms"))?;
            let topic = topics::get_by_urn(&ctx, &api.caller, urn).await?;
            Action::EnableSms { topic_id: topic.id }
        }
    };
    let outcome = two_factor::save(&ctx, &api.caller, &api.actor, &ids, action).await.map_err(api_fields)?;
    // Each reason names its host, as it stands in a list of many.
    let named = |r: &two_factor::Refused| -> Vec<String> {
        r.reasons.iter().map(|reason| format!("{}: {reason}", r.server_name)).collect()
    };
    let refused = outcome
        .refused
        .iter()
        .map(|r| RefusedHost { host_id: r.server_id.to_string(), host_name: r.server_name.clone(), reasons: named(r) })
        .collect();
    // A host already as asked is no refusal: setting the switch to what it is succeeds, as in HSS.
    if outcome.saved.is_empty() && outcome.unchanged.is_empty() && !outcome.refused.is_empty() {
        let reasons: Vec<String> = outcome.refused.iter().flat_map(named).collect();
        return Err(ApiError::Invalid(format!("host_id_list: no host can take this change: {}", reasons.join("; "))));
    }
    Ok((
        StatusCode::OK,
        Json(SetTwoFactorLoginConfigResponse {
            request_id: api.request_id,
            saved: outcome
                .saved
                .iter()
                .map(|s| SavedHost { host_id: s.server_id.to_string(), revision: s.revision })
                .collect(),
            refused,
            unchanged: outcome
                .unchanged
                .into_iter()
                .map(|u| UnchangedHost { host_id: u.server_id.to_string(), host_name: u.server_name, reason: u.reason })
                .collect(),
            apply_at: outcome.due_at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        }),
    ))
}
