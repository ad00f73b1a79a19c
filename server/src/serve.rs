//! Serving the router on a socket, with the limits that keep one client from holding the
//! console: a cap on open connections, a deadline for sending request headers, a deadline for
//! every request but the agents' long poll, and a cap on request bodies.

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{future::Future, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A client must send its request headers within this time, or the connection is closed.
    pub header_read_timeout: Duration,
    /// A request must be answered within this time (the agents' long poll excepted).
    pub request_timeout: Duration,
    /// Connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// The largest request body read; larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            // Every agent holds a long poll open, so this is sized for a large fleet.
            max_connections: 25_000,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The one route that may take longer than `request_timeout`: it waits for a new revision.
const LONG_POLL: &str = "/agent/v1/config";

/// Serves `router` until `shutdown` completes. Each request carries the peer's address as
/// `ConnectInfo<SocketAddr>`, as `into_make_service_with_connect_info` would give it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front terminates,
    // and detecting the version first would wait for a silent client without any deadline.
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return Ok(()),
            },
            () = &mut shutdown => return Ok(()),
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let router = router.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let _slot = permit;
            let service = tower::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req.map(Body::new))
            });
            let io = TokioIo::new(stream);
            if let Err(e) = builder.serve_connection(io, TowerToHyperService::new(service)).with_upgrades().await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}

/// Middleware: answers 503 when a request takes longer than the limit.
pub async fn request_timeout(limit: Duration, request: Request, next: Next) -> Response {
    if request.uri().path() == LONG_POLL {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path, "request timed out");
            error_response(
                &path,
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                format!("the request took longer than {} seconds; try again", limit.as_secs()),
            )
        }
    }
}

/// Middleware: refuses bodies over the limit with 413, in the error shape of the API asked.
/// A body whose length is not declared is cut off at the limit, and the reader fails with 413.
pub async fn body_limit(limit: usize, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(request.uri().path(), limit);
    }
    let (parts, body) = request.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, limited)).await
}

pub fn too_large(path: &str, limit: usize) -> Response {
    error_response(
        path,
        StatusCode::PAYLOAD_TOO_LARGE,
        "TOO_LARGE",
        format!("the request body must be at most {limit} bytes"),
    )
}

/// `{error_code, error_msg}` on the agent and HSS-compatible APIs, plain text elsewhere.
fn error_response(path: &str, status: StatusCode, what: &str, message: String) -> Response {
    let code = if path.starts_with("/agent/") {
        format!("AGENT.{}", status.as_u16())
    } else if path.starts_with("/v2/") || path.starts_with("/v5/") {
        format!("HG.REQUEST.{what}")
    } else {
        return (status, message).into_response();
    };
    (status, axum::Json(serde_json::json!({ "error_code": code, "error_msg": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::to_bytes, routing::get};

    fn app(limit: Duration) -> Router {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "late"
        };
        Router::new()
            .route("/api/slow", get(slow))
            .route("/v5/p/slow", get(slow))
            .route(LONG_POLL, get(slow))
            .layer(axum::middleware::from_fn(move |req, next| request_timeout(limit, req, next)))
    }

    async fn get_path(router: Router, path: &str) -> (StatusCode, String) {
        let res = router.oneshot(axum::http::Request::builder().uri(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        (status, String::from_utf8(to_bytes(res.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap())
    }

    #[tokio::test]
    async fn slow_requests_get_503_except_the_long_poll() {
        let (status, body) = get_path(app(Duration::from_secs(1)), "/api/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("longer than 1 seconds"), "{body}");
        let (status, body) = get_path(app(Duration::from_secs(1)), "/v5/p/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("\"error_code\":\"HG.REQUEST.TIMEOUT\""), "{body}");
        let (status, body) = get_path(app(Duration::from_secs(1)), LONG_POLL).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "late"), "the long poll has its own wait");
    }
}
