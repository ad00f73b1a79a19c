//! Logs: `tracing`, with a request id on every request (taken from `x-request-id` or made up)
//! and sent back in the response.

use axum::{
    body::Body,
    http::{HeaderName, Request},
};
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing_subscriber::EnvFilter;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sea_orm=warn,sqlx=warn,tower_sessions=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

/// Outermost: gives the request its id.
pub fn set_request_id() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid)
}

/// Copies the id to the response.
pub fn propagate_request_id() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(REQUEST_ID)
}

fn span(req: &Request<Body>) -> tracing::Span {
    let id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
}

pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, fn(&Request<Body>) -> tracing::Span> {
    TraceLayer::new_for_http().make_span_with(span as fn(&Request<Body>) -> tracing::Span)
}
