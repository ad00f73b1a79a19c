//! The push service stand-in as an ntfy server, the usual UnifiedPush distributor: its
//! endpoints are topics (`/up<id>?up=1`), and it takes the same Web Push requests (VAPID and
//! aes128gcm, checked and decrypted as [`crate::push_service`] does) but answers a published
//! message with 200 and the message as JSON, not 201.

use crate::push_service::{take, PushService};
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    Json,
};

/// A UnifiedPush endpoint on ntfy at `origin` for subscription `id`.
pub(crate) fn endpoint(origin: &str, id: &str) -> String {
    format!("{origin}/up{id}?up=1")
}

/// `POST /{topic}`: a topic named `up<id>` is subscription `id`.
pub(crate) async fn publish(
    State(service): State<PushService>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    let Some(id) = topic.strip_prefix("up").map(str::to_owned) else {
        return (StatusCode::NOT_FOUND, Json(serde_json::json!({ "code": 40401, "error": "topic not found" })));
    };
    match take(&service, id, &headers, body) {
        StatusCode::CREATED => {
            let message = serde_json::json!({
                "id": uuid::Uuid::new_v4().simple().to_string()[..12],
                "time": chrono::Utc::now().timestamp(),
                "event": "message",
                "topic": topic,
            });
            (StatusCode::OK, Json(message))
        }
        status => (status, Json(serde_json::json!({ "code": status.as_u16() * 100, "error": "refused" }))),
    }
}
