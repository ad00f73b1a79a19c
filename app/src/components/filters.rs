//! Lists whose filters live in the URL (login audit, outbox), so a reload or a shared link shows
//! the same view.

use crate::routes::hss::two_factor::encode;

/// `?server=…&result=denied`: the non-empty values only, then the page size and page unless
/// they are the defaults.
pub fn query_string(values: &[(&str, String)], size: u64, default_size: u64, page: u64) -> String {
    let mut parts: Vec<String> =
        values.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| format!("{k}={}", encode(v.trim()))).collect();
    if size != default_size {
        parts.push(format!("size={size}"));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
