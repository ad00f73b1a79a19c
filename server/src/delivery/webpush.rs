//! Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291): notifies a
//! person's subscribed browsers and phones of a pending push request while the portal is
//! closed. UnifiedPush distributors such as ntfy take the same requests. web-push-native
//! encrypts; the VAPID token is signed here with p256, because its own VAPID feature leaves
//! the port out of the token's audience (RFC 8292 wants the endpoint's origin) and pulls in
//! a second JWT stack.
//!
//! A notification is sent at most once (see `domain::push::subscriptions::claim_due`) and is
//! not retried: the request expires within a minute and the portal shows it anyway. Nothing
//! here touches the login: a failed delivery is logged and forgotten.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use domain::{entities::push_subscription, push::subscriptions, Ctx};
use p256::{
    ecdsa::{signature::Signer, Signature, SigningKey},
    elliptic_curve::sec1::ToEncodedPoint,
};
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

/// Push services keep an undelivered notification this long; the request expires at 60 s.
pub const TTL: Duration = Duration::from_secs(60);
/// The VAPID token's lifetime (RFC 8292 allows at most 24 hours).
const TOKEN_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The console's VAPID identity: the key that signs its tokens, and the contact in them.
pub struct Vapid {
    key: SigningKey,
    public_key: String,
    subject: String,
}

impl Vapid {
    pub fn new(private_key: &[u8; 32], subject: &str) -> Result<Self, String> {
        let key = SigningKey::from_slice(private_key).map_err(|_| "the VAPID key is not a P-256 private key")?;
        let point = p256::PublicKey::from(key.verifying_key()).to_encoded_point(false);
        Ok(Self { public_key: URL_SAFE_NO_PAD.encode(point.as_bytes()), key, subject: subject.to_owned() })
    }

    /// The public key browsers pass to `PushManager.subscribe` (base64url, uncompressed point).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header for a request to `endpoint`: `vapid t=<ES256 JWT>, k=<key>`.
    pub fn authorization(&self, endpoint: &reqwest::Url, now: DateTime<Utc>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": (now + TOKEN_LIFETIME).timestamp(),
            "sub": self.subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        format!("vapid t={signed}.{}, k={}", URL_SAFE_NO_PAD.encode(signature.to_bytes()), self.public_key)
    }
}

/// What a push service said to one notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Accepted,
    /// 404 or 410: the subscription no longer exists.
    Gone,
    Failed(String),
}

pub struct WebPush {
    vapid: Vapid,
    client: reqwest::Client,
    allow_loopback: bool,
}

/// Whether the console may connect to `ip` for Web Push: a public address, or this machine
/// when `allow_loopback` (development and tests).
fn may_connect(ip: IpAddr, allow_loopback: bool) -> bool {
    subscriptions::is_public_ip(ip) || (allow_loopback && subscriptions::is_loopback_ip(ip))
}

/// Resolves push services' names and refuses a name any of whose addresses is internal, so a
/// name pointed at the console's network (or rebound to it after subscribing) is never
/// connected to. The addresses checked are the ones connected to.
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.is_empty() || addrs.iter().any(|a| !may_connect(a.ip(), allow_loopback)) {
                return Err("the push service's name does not resolve to public addresses only".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

impl WebPush {
    /// `allow_loopback` lets notifications go to this machine (`HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK`);
    /// other internal addresses are never connected to.
    pub fn new(vapid: Vapid, allow_loopback: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // A redirect could lead anywhere, past the checks below.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the resolver's check.
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
            .build()
            .map_err(|e| format!("cannot set up the Web Push HTTP client: {e}"))?;
        Ok(Self { vapid, client, allow_loopback })
    }

    pub fn vapid(&self) -> &Vapid {
        &self.vapid
    }

    /// Encrypts `payload` for `sub` and posts it to its push service.
    /// An endpoint at an internal address fails like an unreachable one: nothing is sent,
    /// nothing dropped.
    pub async fn send(&self, sub: &push_subscription::Model, payload: &str, now: DateTime<Utc>) -> Sent {
        match self.request(sub, payload, now) {
            // Addresses in the URL skip the resolver: checked here.
            Ok(req) if !self.literal_allowed(req.url()) => {
                Sent::Failed("push service unreachable: its address is not public".to_owned())
            }
            Ok(req) => match self.client.execute(req).await {
                Ok(res) if res.status().is_success() => Sent::Accepted,
                Ok(res) if matches!(res.status().as_u16(), 404 | 410) => Sent::Gone,
                Ok(res) => Sent::Failed(format!("the push service answered {}", res.status())),
                // Without the URL: the endpoint is a capability and stays out of logs.
                Err(e) => Sent::Failed(format!("push service unreachable: {}", e.without_url())),
            },
            Err(e) => Sent::Failed(e),
        }
    }

    /// False for a URL whose host is an address the console may not connect to (names are
    /// the resolver's to check).
    fn literal_allowed(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => may_connect(ip, self.allow_loopback),
            Err(_) => true,
        }
    }

    fn request(
        &self,
        sub: &push_subscription::Model,
        payload: &str,
        now: DateTime<Utc>,
    ) -> Result<reqwest::Request, String> {
        let endpoint = reqwest::Url::parse(&sub.endpoint).map_err(|e| format!("bad endpoint: {e}"))?;
        let uri: http::Uri = sub.endpoint.parse().map_err(|e| format!("bad endpoint: {e}"))?;
        let ua_public = web_push_native::p256::PublicKey::from_sec1_bytes(&sub.p256dh)
            .map_err(|_| "the subscription's p256dh key is not a P-256 point".to_owned())?;
        let auth = <[u8; 16]>::try_from(sub.auth.as_slice())
            .map_err(|_| "the subscription's auth secret is not 16 bytes".to_owned())?;
        let built = web_push_native::WebPushBuilder::new(uri, ua_public, auth.into())
            .with_valid_duration(TTL)
            .build(payload.as_bytes().to_vec())
            .map_err(|e| format!("cannot encrypt the notification: {e}"))?;
        let mut req = reqwest::Request::try_from(built).map_err(|e| format!("cannot build the request: {e}"))?;
        let headers = req.headers_mut();
        let authorization = self.vapid.authorization(&endpoint, now);
        headers.insert(
            reqwest::header::AUTHORIZATION,
            authorization.parse().map_err(|_| "the VAPID header is not a header value".to_owned())?,
        );
        headers.insert("Urgency", reqwest::header::HeaderValue::from_static("high"));
        Ok(req)
    }
}

/// One notifier pass: takes the new pending push requests and notifies each person's
/// subscriptions; drops the subscriptions their push service says are gone. Returns how many
/// notifications push services accepted.
pub async fn notify_due(ctx: &Ctx, push: &WebPush) -> Result<usize, domain::DomainError> {
    let due = subscriptions::claim_due(ctx).await?;
    let now = ctx.clock.now();
    let mut accepted = 0;
    for d in due {
        let payload = d.payload.as_str();
        let sends = d.subscriptions.iter().map(|s| async move { (s, push.send(s, payload, now).await) });
        for (sub, sent) in futures_util::future::join_all(sends).await {
            match sent {
                Sent::Accepted => accepted += 1,
                Sent::Gone => {
                    tracing::info!(subscription = %sub.id, "the push service says the subscription is gone; removing it");
                    if let Err(e) = subscriptions::forget(ctx, sub.id).await {
                        tracing::warn!(error = %e, subscription = %sub.id, "cannot remove a gone subscription");
                    }
                }
                Sent::Failed(e) => {
                    tracing::warn!(error = %e, request = %d.request.id, subscription = %sub.id, "Web Push failed");
                }
            }
        }
    }
    Ok(accepted)
}

/// Runs the notifier until the process ends: a pass every `poll`.
pub fn spawn_notifier(ctx: Ctx, push: WebPush, poll: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = notify_due(&ctx, &push).await {
                tracing::warn!(error = %e, "cannot take push requests to notify");
            }
            tokio::time::sleep(poll).await;
        }
    })
}
