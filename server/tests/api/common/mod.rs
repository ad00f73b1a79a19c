//! The harness lives in the `testkit` crate (shared with the bench); the demo's sign-ins are
//! re-exported for the modules that still sign in as the demo's users.

pub use testkit::demo::*;
pub use testkit::*;

/// Whether `n` appears anywhere in `v` as a value (a number, or a string that is exactly it), or
/// as a `number` key: a plain substring check would trip on a timestamp or an id containing it.
pub fn holds_number(v: &serde_json::Value, n: u16) -> bool {
    match v {
        serde_json::Value::Number(x) => x.as_u64() == Some(u64::from(n)),
        serde_json::Value::String(s) => s == &n.to_string(),
        serde_json::Value::Array(a) => a.iter().any(|x| holds_number(x, n)),
        serde_json::Value::Object(o) => o.iter().any(|(k, x)| k == "number" || holds_number(x, n)),
        _ => false,
    }
}
