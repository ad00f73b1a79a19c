//! Lists whose filters live in the URL (login audit, outbox), so a reload or a shared link shows
//! the same view.

use leptos::prelude::*;
use leptos_router::components::A;

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

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A pager button: a link to the page, or a disabled button where there is none.
pub(crate) fn pager_link(href: Option<String>, label: &'static str, rel: &'static str) -> AnyView {
    match href {
        Some(href) => view! {
            <A href=href attr:class="button button-secondary" attr:rel=rel>
                {label}
            </A>
        }
        .into_any(),
        None => view! {
            <span class="button button-secondary" aria-disabled="true">
                {label}
            </span>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("web 01&x=1"), "web%2001%26x%3D1");
        assert_eq!(super::encode("192.168.10.35"), "192.168.10.35");
    }
}
