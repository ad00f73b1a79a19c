//! Cross-site request refusal for the console's server functions (`POST /api/...`), on top of
//! the session cookie's `SameSite=Lax`. A browser says where a request comes from in
//! `Sec-Fetch-Site` and `Origin`; a request another site made is refused before it runs.
//! Sign-in is covered too, so another site cannot sign a visitor into an account of its choice.
//! Clients that are not browsers send neither header and are not affected.

use axum::{
    extract::Request,
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.uri().path().starts_with("/api/") {
        if let Some(reason) = cross_site(request.headers()) {
            tracing::warn!(path = request.uri().path(), reason, "cross-site request refused");
            return (StatusCode::FORBIDDEN, format!("cross-site request refused: {reason}")).into_response();
        }
    }
    next.run(request).await
}

/// Why the request comes from another site, if it does.
pub(crate) fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match text("sec-fetch-site") {
        Some("same-origin") | Some("none") | None => {}
        Some(_) => return Some("Sec-Fetch-Site is not same-origin"),
    }
    let origin = text(header::ORIGIN.as_str())?;
    let host = text(header::HOST.as_str())?;
    let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match origin_host {
        Some(h) if h.eq_ignore_ascii_case(host) => None,
        _ => Some("Origin is not this console"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_and_non_browser_requests_pass() {
        assert_eq!(cross_site(&headers(&[])), None);
        assert_eq!(cross_site(&headers(&[("host", "console.example.com")])), None);
        assert_eq!(
            cross_site(&headers(&[
                ("host", "console.example.com"),
                ("origin", "https://console.example.com"),
                ("sec-fetch-site", "same-origin")
            ])),
            None
        );
        assert_eq!(cross_site(&headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")])), None);
    }

    #[test]
    fn other_sites_are_refused() {
        let refused = |pairs: &[(&'static str, &str)]| cross_site(&headers(pairs)).is_some();
        assert!(refused(&[("host", "console.example.com"), ("sec-fetch-site", "cross-site")]));
        assert!(refused(&[("host", "console.example.com"), ("sec-fetch-site", "same-site")]));
        assert!(refused(&[("host", "console.example.com"), ("origin", "https://evil.example")]));
        assert!(refused(&[("host", "console.example.com"), ("origin", "null")]));
        assert!(refused(&[("host", "console.example.com"), ("origin", "https://console.example.com.evil.example")]));
    }
}
