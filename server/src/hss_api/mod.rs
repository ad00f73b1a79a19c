//! The HSS-compatible HTTP API: the paths and field names of Huawei Cloud's SMN v2 topic and
//! subscription calls and of HSS v5's two-factor-login calls, so scripts and the official SDKs
//! written for the original work against HostGuard. Handlers parse, then call `domain`.

pub mod auth;
mod contract;
pub mod error;
mod hss;
mod params;
mod smn;

use axum::{
    middleware,
    routing::{delete, get},
    Router,
};
use domain::Ctx;

/// The API's routes, every one behind [`auth::authenticate`].
pub fn routes<S: Clone + Send + Sync + 'static>(ctx: Ctx) -> Router<S> {
    Router::new()
        .route("/v2/{project_id}/notifications/topics", get(smn::list_topics).post(smn::create_topic))
        .route("/v2/{project_id}/notifications/topics/{topic_urn}", delete(smn::delete_topic))
        .route(
            "/v2/{project_id}/notifications/topics/{topic_urn}/subscriptions",
            get(smn::list_topic_subscriptions).post(smn::add_subscription),
        )
        .route("/v2/{project_id}/notifications/subscriptions", get(smn::list_subscriptions))
        .route("/v2/{project_id}/notifications/subscriptions/{subscription_urn}", delete(smn::cancel_subscription))
        .merge(hss::routes())
        .route_layer(middleware::from_fn_with_state(ctx.clone(), auth::authenticate))
        .with_state(ctx)
}
