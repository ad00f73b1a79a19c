//! A stand-in Web Push service, as a browser vendor's would be: it takes POST /push/{id},
//! checks the VAPID token (RFC 8292) against the console's public key and the service's own
//! origin, and decrypts the aes128gcm body (RFC 8291) with the subscription's private key and
//! auth secret, as the browser holding the subscription would. Tests read what arrived.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use p256::{
    ecdsa::{signature::Verifier, Signature, VerifyingKey},
    elliptic_curve::sec1::ToEncodedPoint,
};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

/// What the service took and decrypted.
#[derive(Clone, Debug)]
pub struct Received {
    /// The subscription it was for.
    pub subscription: String,
    /// The decrypted payload.
    pub payload: serde_json::Value,
    pub ttl: Option<String>,
    pub urgency: Option<String>,
}

/// A subscription as the browser holds it: the private half of its keys stays here.
#[derive(Clone)]
pub struct Subscriber {
    pub id: String,
    pub endpoint: String,
    /// As `PushSubscription.toJSON().keys` gives them (base64url).
    pub p256dh: String,
    pub auth: String,
}

struct Keys {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

#[derive(Default)]
struct Inner {
    subscriptions: HashMap<String, Keys>,
    /// Subscriptions that answer 410 Gone (the browser unsubscribed).
    gone: HashSet<String>,
    received: Vec<Received>,
    /// Requests refused, with the reason (bad VAPID token, undecryptable body).
    refused: Vec<String>,
}

#[derive(Clone)]
pub struct PushService {
    /// `http://127.0.0.1:PORT`, the origin VAPID tokens must name.
    pub origin: String,
    vapid_public_key: String,
    /// Answers as ntfy (a UnifiedPush distributor) does: endpoints `/up…?up=1`, 200 with JSON.
    ntfy: bool,
    inner: Arc<Mutex<Inner>>,
}

impl PushService {
    /// Starts the service; it accepts only tokens signed by `vapid_public_key` (base64url).
    pub async fn start(vapid_public_key: &str) -> PushService {
        Self::start_as(vapid_public_key, false).await
    }

    /// A stand-in ntfy server taking UnifiedPush's Web Push requests (see [`crate::ntfy`]).
    pub async fn start_ntfy(vapid_public_key: &str) -> PushService {
        Self::start_as(vapid_public_key, true).await
    }

    async fn start_as(vapid_public_key: &str, ntfy: bool) -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let service = PushService {
            origin,
            vapid_public_key: vapid_public_key.to_owned(),
            ntfy,
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/push/{id}", post(push))
            .route("/{topic}", post(crate::ntfy::publish))
            .with_state(service.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        service
    }

    /// A new subscription, as a browser's `PushManager.subscribe` would make.
    pub fn subscribe(&self) -> Subscriber {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let auth: [u8; 16] = rand::random();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let point = secret.public_key().to_encoded_point(false);
        let sub = Subscriber {
            endpoint: match self.ntfy {
                true => crate::ntfy::endpoint(&self.origin, &id),
                false => format!("{}/push/{id}", self.origin),
            },
            p256dh: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            auth: URL_SAFE_NO_PAD.encode(auth),
            id: id.clone(),
        };
        self.inner.lock().unwrap().subscriptions.insert(id, Keys { secret, auth });
        sub
    }

    /// From now on `sub` answers 410 Gone.
    pub fn unsubscribe(&self, sub: &Subscriber) {
        self.inner.lock().unwrap().gone.insert(sub.id.clone());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.inner.lock().unwrap().refused.clone()
    }

    /// Checks `Authorization: vapid t=<JWT>, k=<key>`: the console's key, an ES256 signature
    /// by it, this service's origin as audience, an expiry and a contact.
    fn check_vapid(&self, headers: &HeaderMap) -> Result<(), String> {
        let value = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
        let rest = value.strip_prefix("vapid ").ok_or("not a vapid Authorization")?;
        let mut token = None;
        let mut key = None;
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(t) = part.strip_prefix("t=") {
                token = Some(t);
            } else if let Some(k) = part.strip_prefix("k=") {
                key = Some(k);
            }
        }
        let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
        if key != self.vapid_public_key {
            return Err(format!("k= is not the console's key: {key}"));
        }
        let point = URL_SAFE_NO_PAD.decode(key).map_err(|e| e.to_string())?;
        let verifier = VerifyingKey::from_sec1_bytes(&point).map_err(|e| e.to_string())?;
        let (signed, signature) = token.rsplit_once('.').ok_or("not a JWT")?;
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        verifier.verify(signed.as_bytes(), &signature).map_err(|_| "bad signature")?;
        let (header, claims) = signed.split_once('.').ok_or("not a JWT")?;
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        if header["alg"] != "ES256" {
            return Err(format!("alg is not ES256: {header}"));
        }
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        if claims["aud"] != self.origin.as_str() {
            return Err(format!("aud is not {}: {claims}", self.origin));
        }
        if !claims["exp"].is_i64()
            || !claims["sub"].as_str().is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:"))
        {
            return Err(format!("exp or sub missing: {claims}"));
        }
        Ok(())
    }
}

async fn push(
    State(service): State<PushService>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    take(&service, id, &headers, body)
}

/// Checks and decrypts one push for subscription `id`: 201 when it arrived.
pub(crate) fn take(service: &PushService, id: String, headers: &HeaderMap, body: Bytes) -> StatusCode {
    let refuse = |status: StatusCode, why: String| {
        service.inner.lock().unwrap().refused.push(why);
        status
    };
    if let Err(why) = service.check_vapid(headers) {
        return refuse(StatusCode::UNAUTHORIZED, why);
    }
    if headers.get("content-encoding").and_then(|v| v.to_str().ok()) != Some("aes128gcm") {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Encoding is not aes128gcm".into());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut inner = service.inner.lock().unwrap();
    if inner.gone.contains(&id) {
        return StatusCode::GONE;
    }
    let Some(keys) = inner.subscriptions.get(&id) else {
        return StatusCode::NOT_FOUND;
    };
    let plain = match web_push_native::decrypt(body.to_vec(), &keys.secret, &keys.auth.into()) {
        Ok(p) => p,
        Err(e) => {
            inner.refused.push(format!("cannot decrypt: {e}"));
            return StatusCode::BAD_REQUEST;
        }
    };
    let payload =
        serde_json::from_slice(&plain).unwrap_or(serde_json::Value::String(String::from_utf8_lossy(&plain).into()));
    inner.received.push(Received { subscription: id, payload, ttl: header("ttl"), urgency: header("urgency") });
    StatusCode::CREATED
}
