//! Reading path and query parameters with errors that name the field and its rule, where a
//! generic extractor would only say "failed to deserialize" (JSON bodies: `contract::read`).

use super::error::ApiError;
use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

/// Path parameters, refused in the API's error shape (a segment that is not valid UTF-8 once
/// percent-decoded, say) instead of axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| ApiError::bad_request("path", e.body_text()))
    }
}

/// The query string's parameters, last value wins.
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(url_pairs(raw.unwrap_or("")).into_iter().filter(|(k, _)| !k.is_empty()).collect())
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// An integer parameter in `range`, or `default` when absent.
    pub fn int(&self, name: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, ApiError> {
        let Some(raw) = self.str(name) else { return Ok(default) };
        let rule = format!("must be a whole number from {} to {}", range.start(), range.end());
        let n: u64 = raw.trim().parse().map_err(|_| ApiError::bad_request(name, format!("{raw:?} {rule}")))?;
        if !range.contains(&n) {
            return Err(ApiError::bad_request(name, format!("{n} {rule}")));
        }
        Ok(n)
    }
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}
