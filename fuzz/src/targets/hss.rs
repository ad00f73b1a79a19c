//! The HSS-compatible API's request signature: the `SDK-HMAC-SHA256` Authorization header,
//! `X-Sdk-Date`, and the canonical request built from the path, query and signed headers.
//!
//! Input lines: Authorization, X-Sdk-Date, method, path, query, then `name: value` headers.

use axum::response::IntoResponse;
use chrono::{TimeZone, Utc};
use server::hss_api::auth;

pub fn hss_signature(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let authorization = lines.next().unwrap_or("");
    let date = lines.next().unwrap_or("");
    let method = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("");
    let query = lines.next().unwrap_or("");
    let headers: Vec<(String, String)> = lines
        .take(64)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let Some(now) = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single() else { return };
    for at in [now, chrono::DateTime::<Utc>::MIN_UTC, chrono::DateTime::<Utc>::MAX_UTC] {
        if let Err(e) = auth::check_date(Some(date), at) {
            let _ = e.into_response();
        }
    }
    let signed = match auth::parse_signed_auth(authorization) {
        Ok(a) => {
            assert!(!a.access.is_empty());
            a.signed_headers
        }
        Err(e) => {
            let _ = e.into_response();
            headers.iter().map(|(k, _)| k.clone()).collect()
        }
    };
    let uri = auth::canonical_uri(path);
    assert!(uri.ends_with('/'));
    let _ = auth::canonical_query(query);
    let canonical = auth::canonical_request(method, path, query, &headers, &signed, &auth::hex_sha256(data));
    let to_sign = auth::string_to_sign(date, &canonical);
    let _ = auth::signature(query, &to_sign);
}
