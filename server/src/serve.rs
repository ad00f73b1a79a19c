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
const LONG_POLL: &str = proto::agent::paths::CONFIG;

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

/// Middleware: how long browsers may keep a response. The wasm, JS and CSS under `/pkg/` carry
/// their content's hash in their names (`hashed`), so they never change and are kept for a
/// year; unhashed they are revalidated each time. Other static files are kept a day; pages and
/// answers are never stored. Answers that set their own policy keep it.
pub async fn cache_control(hashed: bool, request: Request, next: Next) -> Response {
    let static_pkg = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let policy = if !response.status().is_success() && response.status() != StatusCode::NOT_MODIFIED {
        "no-store"
    } else if static_pkg && hashed {
        "public, max-age=31536000, immutable"
    } else if static_pkg {
        "no-cache"
    } else if response.headers().contains_key(header::LAST_MODIFIED) && !html {
        // Other files from the site's assets (the icon).
        "public, max-age=86400"
    } else {
        // Pages and answers show what the signed-in user may see: kept by no cache, not even
        // the browser's (Back after sign-out on a shared computer).
        "no-store"
    };
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static(policy));
    response
}

/// Middleware, outside the compression layer: a request another site made the browser send
/// (a cross-site navigation carries the session cookie) is answered uncompressed, so the size
/// of a page that echoes its query next to the user's data tells an eavesdropper nothing
/// (BREACH). The console's own requests are same-origin and stay compressed.
pub async fn no_compression_cross_site(mut request: Request, next: Next) -> Response {
    let foreign = request
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site");
    if foreign {
        request.headers_mut().remove(header::ACCEPT_ENCODING);
    }
    next.run(request).await
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

    /// The console's static files as cargo-leptos leaves them (a hashed name, precompressed),
    /// served as the console serves them, behind [`cache_control`] and the compression layer.
    fn site(hashed: bool) -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/hostguard.abc123.wasm"), vec![7u8; 4096]).unwrap();
        std::fs::write(dir.path().join("pkg/hostguard.abc123.wasm.br"), b"brotli bytes").unwrap();
        let page = || async { axum::response::Html("<!DOCTYPE html><p>hello</p>".repeat(100)) };
        let router = Router::new()
            .route("/signin", get(page))
            .fallback_service(tower_http::services::ServeDir::new(dir.path()).precompressed_br())
            .layer(axum::middleware::from_fn(move |req, next| cache_control(hashed, req, next)))
            .layer(tower_http::compression::CompressionLayer::new().br(true).gzip(true))
            .layer(axum::middleware::from_fn(no_compression_cross_site));
        (dir, router)
    }

    async fn fetch(router: Router, path: &str, encoding: &str) -> Response {
        fetch_from(router, path, encoding, "same-origin").await
    }

    async fn fetch_from(router: Router, path: &str, encoding: &str, site: &str) -> Response {
        let req = axum::http::Request::builder()
            .uri(path)
            .header(header::ACCEPT_ENCODING, encoding)
            .header("sec-fetch-site", site);
        router.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    fn headers_of(res: &Response) -> (String, String) {
        let get = |h| res.headers().get(h).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (get(header::CONTENT_ENCODING), get(header::CACHE_CONTROL))
    }

    #[tokio::test]
    async fn hashed_static_files_go_precompressed_and_are_kept_a_year() {
        let (_dir, router) = site(true);
        let res = fetch(router.clone(), "/pkg/hostguard.abc123.wasm", "gzip, deflate, br").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(headers_of(&res), ("br".into(), "public, max-age=31536000, immutable".into()));
        let body = to_bytes(res.into_body(), 1 << 16).await.unwrap();
        assert_eq!(&body[..], b"brotli bytes", "the precompressed file, not a compression on the fly");
        // A client that takes no brotli gets the file as it is (no gzip file was made here).
        let res = fetch(router.clone(), "/pkg/hostguard.abc123.wasm", "identity").await;
        assert_eq!(headers_of(&res), (String::new(), "public, max-age=31536000, immutable".into()));
        assert_eq!(to_bytes(res.into_body(), 1 << 16).await.unwrap().len(), 4096);
        // A missing file is not cached, so it is fetched again once it exists.
        let res = fetch(router, "/pkg/hostguard.def456.wasm", "br").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(headers_of(&res).1, "no-store");
    }

    #[tokio::test]
    async fn unhashed_static_files_and_pages_are_revalidated_and_pages_compressed() {
        let (_dir, router) = site(false);
        let res = fetch(router.clone(), "/pkg/hostguard.abc123.wasm", "br").await;
        assert_eq!(headers_of(&res).1, "no-cache", "a debug build's files keep their names when they change");
        let res = fetch(router.clone(), "/signin", "gzip").await;
        assert_eq!(headers_of(&res), ("gzip".into(), "no-store".into()));
        let zipped = to_bytes(res.into_body(), 1 << 16).await.unwrap().len();
        let res = fetch(router.clone(), "/signin", "identity").await;
        let plain = to_bytes(res.into_body(), 1 << 16).await.unwrap().len();
        assert!(zipped * 5 < plain, "the page is compressed: {zipped} bytes for {plain}");
        // A page another site sent the browser to is not compressed (BREACH).
        for site in ["cross-site", "same-site"] {
            let res = fetch_from(router.clone(), "/signin", "gzip, br", site).await;
            assert_eq!(headers_of(&res), (String::new(), "no-store".into()), "{site}");
            assert_eq!(to_bytes(res.into_body(), 1 << 16).await.unwrap().len(), plain);
        }
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
