//! Web Push subscriptions: where a person's browsers and phones (or a UnifiedPush/ntfy
//! distributor) receive notifications of their push requests while the portal is closed, and
//! the RFC 8291 keys those are encrypted with. A notification only says that a login waits and
//! links to the Approvals page: it carries no number and approves nothing, so a lock screen
//! cannot approve a login. Which requests to notify is decided here ([`claim_due`]); the
//! server sends them.

use super::end_user;
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{push_notification, push_request, push_subscription},
    error::{DomainError, DomainResult},
};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use chrono::{DateTime, Utc};
use proto::push::PushStatus;
use sea_orm::{
    sea_query::{OnConflict, Query},
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub const MAX_PER_USER: usize = 10;
pub const ENDPOINT_MAX: usize = 1024;
/// Requests taken per notifier pass; more wait for the next pass (a few hundred milliseconds).
const BATCH: u64 = 50;

/// A subscription as its owner sees it: the push service's address, not the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: Uuid,
    /// The push service (scheme, host and port of the endpoint); the rest of the endpoint is a
    /// capability and stays inside.
    pub service: String,
    pub added_at: DateTime<Utc>,
}

impl From<push_subscription::Model> for Subscription {
    fn from(m: push_subscription::Model) -> Self {
        let service = url::Url::parse(&m.endpoint).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        Self { id: m.id, service, added_at: m.created_at }
    }
}

/// Whether `ip` is an address on the public Internet: not loopback, private, link-local,
/// CGNAT, unique-local, IPv4-mapped or translated to a non-public IPv4, unspecified, multicast,
/// documentation, benchmarking or reserved. Push services are public; anything else would let a
/// person make the console call into its own network.
pub fn is_public_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(a == 0
                || a == 10
                || a == 127
                || (a == 100 && (b & 0xc0) == 64)
                || (a == 169 && b == 254)
                || (a == 172 && (b & 0xf0) == 16)
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 0 && c == 2)
                || (a == 192 && b == 88 && c == 99)
                || (a == 192 && b == 168)
                || (a == 198 && (b & 0xfe) == 18)
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
                || a >= 224)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded =
                |hi: u16, lo: u16| std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            // IPv4-mapped and -compatible (::ffff:a.b.c.d, ::a.b.c.d): refused outright.
            if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
                return false;
            }
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_ip(IpAddr::V4(embedded(s[6], s[7])));
            }
            if s[0] == 0x2002 {
                return is_public_ip(IpAddr::V4(embedded(s[1], s[2])));
            }
            !(s[0] & 0xfe00 == 0xfc00 // unique-local
                || s[0] & 0xffc0 == 0xfe80 // link-local
                || s[0] & 0xffc0 == 0xfec0 // site-local (deprecated)
                || s[0] & 0xff00 == 0xff00 // multicast
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] & 0xfff0 == 0x3ff0) // documentation (3fff::/20)
                || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments, Teredo
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 local use
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
                || s[0] == 0) // the rest of ::/16 (::1 and such)
        }
    }
}

/// Whether `ip` is this machine (127.0.0.0/8 or ::1).
pub fn is_loopback_ip(ip: std::net::IpAddr) -> bool {
    ip.is_loopback()
}

/// The endpoint a push service gave: an https URL of a public push service. With
/// `allow_loopback` (development and tests, `HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK`), http and
/// https to this machine are taken too (a local ntfy, the tests' stand-in service). Names are
/// resolved and checked again when a notification is sent.
pub fn clean_endpoint(endpoint: &str, allow_loopback: bool) -> DomainResult<String> {
    let e = endpoint.trim();
    let bad = |why: &str| DomainError::validation("endpoint", why.to_owned());
    if e.len() > ENDPOINT_MAX {
        return Err(bad(&format!("must be at most {ENDPOINT_MAX} characters")));
    }
    let url = url::Url::parse(e).map_err(|_| bad("must be the push service's URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain a user name or password"));
    }
    let internal = || bad("must be a public push service, not an address inside this network");
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_loopback_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_loopback_ip(ip.into()),
        None => return Err(bad("must be the push service's URL")),
    };
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::from(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::from(ip)),
        _ => None,
    };
    if loopback {
        if !allow_loopback {
            return Err(internal());
        }
    } else if literal.is_some_and(|ip| !is_public_ip(ip)) {
        return Err(internal());
    }
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        _ => Err(bad("must be an https URL")),
    }
}

/// Bytes sent as base64url (as `PushSubscription.toJSON()` gives them), padded or not;
/// standard base64 is taken too.
fn base64_field(field: &str, value: &str, what: &str) -> DomainResult<Vec<u8>> {
    let v = value.trim();
    URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(v))
        .map_err(|_| DomainError::validation(field, format!("must be {what}, base64url-encoded")))
}

/// The subscription's P-256 key: an uncompressed point on the curve.
pub fn parse_p256dh(value: &str) -> DomainResult<Vec<u8>> {
    const WHAT: &str = "the subscription's P-256 public key (65 bytes, uncompressed)";
    let key = base64_field("p256dh", value, WHAT)?;
    if key.len() != 65 || p256::PublicKey::from_sec1_bytes(&key).is_err() {
        return Err(DomainError::validation("p256dh", format!("must be {WHAT}, base64url-encoded")));
    }
    Ok(key)
}

/// The subscription's authentication secret: 16 bytes.
pub fn parse_auth(value: &str) -> DomainResult<Vec<u8>> {
    const WHAT: &str = "the subscription's 16-byte authentication secret";
    let auth = base64_field("auth", value, WHAT)?;
    if auth.len() != 16 {
        return Err(DomainError::validation("auth", format!("must be {WHAT}, base64url-encoded")));
    }
    Ok(auth)
}

/// The caller's subscriptions, oldest first.
pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Subscription>> {
    let (user_id, _) = end_user(caller)?;
    Ok(push_subscription::Entity::find()
        .filter(push_subscription::Column::UserId.eq(user_id))
        .order_by_asc(push_subscription::Column::CreatedAt)
        .order_by_asc(push_subscription::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(Subscription::from)
        .collect())
}

/// Subscribes the caller's browser or phone. Subscribing the same endpoint again replaces its
/// keys (browsers renew them). A subscription only receives notifications that link to the
/// portal, so no step-up is asked; it is audited.
pub async fn add(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> DomainResult<Subscription> {
    let (user_id, tenant_id) = end_user(caller)?;
    let endpoint = clean_endpoint(endpoint, ctx.webpush_allow_loopback)?;
    let p256dh = parse_p256dh(p256dh)?;
    let auth = parse_auth(auth)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<crate::entities::user::Entity>(&txn, &[user_id]).await?;
    let existing =
        push_subscription::Entity::find().filter(push_subscription::Column::UserId.eq(user_id)).all(&txn).await?;
    let saved = if let Some(same) = existing.iter().find(|s| s.endpoint == endpoint) {
        let mut am: push_subscription::ActiveModel = same.clone().into();
        am.p256dh = Set(p256dh);
        am.auth = Set(auth);
        push_subscription::Entity::update(am).exec(&txn).await?
    } else {
        if existing.len() >= MAX_PER_USER {
            return Err(DomainError::Conflict(format!(
                "You already have {MAX_PER_USER} notification subscriptions, the most allowed. Remove one you no \
                 longer use first."
            )));
        }
        let row = push_subscription::Model {
            id: Uuid::new_v4(),
            tenant_id,
            user_id,
            endpoint,
            p256dh,
            auth,
            created_at: now,
        };
        push_subscription::Entity::insert(push_subscription::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        row
    };
    let sub = Subscription::from(saved);
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::PushSubscriptionAdded,
            target: caller.email.clone(),
            detail: format!("notifications through {}", sub.service),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(sub)
}

/// Unsubscribes one of the caller's subscriptions; another person's is not found. Audited.
pub async fn remove(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let found = push_subscription::Entity::find_by_id(id)
        .filter(push_subscription::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("push subscription"))?;
    push_subscription::Entity::delete_by_id(found.id).exec(&txn).await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::PushSubscriptionRemoved,
            target: caller.email.clone(),
            detail: format!("notifications through {}", Subscription::from(found).service),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A push request to notify, and where.
#[derive(Clone, Debug)]
pub struct Due {
    pub request: push_request::Model,
    pub subscriptions: Vec<push_subscription::Model>,
    /// The notification's plaintext (JSON, see [`payload`]).
    pub payload: String,
}

/// What a notification says: which login waits, and the page to decide it on. Never the
/// number (only the SSH prompt shows it) and no way to approve.
pub fn payload(request: &push_request::Model, public_url: &str) -> String {
    serde_json::json!({
        "type": "push_request",
        "id": request.id,
        "server": request.server_name,
        "account": request.account,
        "source_ip": request.source_ip,
        "requested_at": request.created_at,
        "expires_at": request.expires_at,
        "url": format!("{}/portal/approvals", public_url.trim_end_matches('/')),
    })
    .to_string()
}

/// Takes the pending push requests no notifier has taken yet, each exactly once across
/// replicas (the insert into `push_notifications` is the claim). A taken request whose person
/// has notifications paused ([`super::muted`]) or no subscription is not sent, ever: the portal
/// still shows it.
pub async fn claim_due(ctx: &Ctx) -> DomainResult<Vec<Due>> {
    let now = ctx.clock.now();
    let candidates = push_request::Entity::find()
        .filter(push_request::Column::Status.eq(PushStatus::Pending))
        .filter(push_request::Column::ExpiresAt.gt(now))
        .filter(push_request::Column::Id.not_in_subquery(
            Query::select().column(push_notification::Column::RequestId).from(push_notification::Entity).to_owned(),
        ))
        .order_by_asc(push_request::Column::CreatedAt)
        .limit(BATCH)
        .all(&ctx.db)
        .await?;
    let mut due = Vec::new();
    for request in candidates {
        let claimed = push_notification::Entity::insert(push_notification::ActiveModel {
            request_id: Set(request.id),
            created_at: Set(now),
        })
        .on_conflict(OnConflict::column(push_notification::Column::RequestId).do_nothing().to_owned())
        .exec_without_returning(&ctx.db)
        .await?;
        if claimed != 1 || super::muted(&ctx.db, request.user_id, now).await {
            continue;
        }
        let subscriptions = push_subscription::Entity::find()
            .filter(push_subscription::Column::UserId.eq(request.user_id))
            .filter(push_subscription::Column::TenantId.eq(request.tenant_id))
            .all(&ctx.db)
            .await?;
        if !subscriptions.is_empty() {
            let payload = payload(&request, &ctx.public_url);
            due.push(Due { request, subscriptions, payload });
        }
    }
    Ok(due)
}

/// Drops a subscription its push service says is gone (404 or 410): the browser unsubscribed
/// or the person uninstalled the app.
pub async fn forget(ctx: &Ctx, id: Uuid) -> DomainResult<()> {
    push_subscription::Entity::delete_by_id(id).exec(&ctx.db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_public_https_and_loopback_only_when_allowed() {
        for allow in [false, true] {
            assert!(clean_endpoint("https://fcm.googleapis.com/fcm/send/abc", allow).is_ok());
            assert!(clean_endpoint("https://[2606:4700::1111]/push", allow).is_ok());
            assert!(clean_endpoint("https://8.8.8.8/push", allow).is_ok());
        }
        for local in [
            "http://127.0.0.1:8080/push/1",
            "https://127.0.0.1/push/1",
            "http://localhost/push/1",
            "https://localhost./push/1",
            "https://push.localhost/x",
            "http://[::1]:9/x",
            "https://127.1.2.3/x",
            "https://0x7f000001/push",
        ] {
            assert!(clean_endpoint(local, true).is_ok(), "{local} with loopback allowed");
            assert!(clean_endpoint(local, false).is_err(), "{local} in production");
        }
        for bad in [
            "http://push.example/x",
            "ftp://x/y",
            "not a url",
            "https://u:p@push.example/x",
            "https://10.0.0.5/push",
            "https://192.168.1.1/push",
            "https://172.16.0.1/push",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/push",
            "https://100.127.255.254/push",
            "https://0.0.0.0/push",
            "https://224.0.0.1/push",
            "https://255.255.255.255/push",
            "https://192.0.2.1/push",
            "https://198.51.100.7/push",
            "https://203.0.113.9/push",
            "https://198.18.0.1/push",
            "https://[fd00::1]/push",
            "https://[fe80::1]/push",
            "https://[::]/push",
            "https://[::ffff:169.254.169.254]/latest",
            "https://[::ffff:127.0.0.1]/push",
            "https://[::ffff:8.8.8.8]/push",
            "https://[64:ff9b::a9fe:a9fe]/push",
            "https://[2002:a9fe:a9fe::1]/push",
            "https://[2001:db8::1]/push",
            "https://[ff02::1]/push",
        ] {
            for allow in [false, true] {
                assert!(clean_endpoint(bad, allow).is_err(), "{bad}");
            }
        }
        assert!(clean_endpoint(&format!("https://p.example/{}", "a".repeat(ENDPOINT_MAX)), true).is_err());
    }

    #[test]
    fn keys_are_parsed() {
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false);
        assert!(parse_p256dh(&URL_SAFE_NO_PAD.encode(point.as_bytes())).is_ok());
        let mut off = point.as_bytes().to_vec();
        off[64] ^= 1;
        assert!(parse_p256dh(&URL_SAFE_NO_PAD.encode(&off)).is_err());
        assert!(parse_p256dh("!!").is_err());
        assert!(parse_auth(&URL_SAFE_NO_PAD.encode([7u8; 16])).is_ok());
        assert!(parse_auth(&URL_SAFE_NO_PAD.encode([7u8; 15])).is_err());
    }

    #[test]
    fn a_notification_carries_no_number() {
        // Fixed ids and times: random ones can hold the digits 472 (a UUID did, once).
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let id = |n: u128| Uuid::from_u128(n * 0x1111_1111_1111_1111_1111_1111_1111_1111);
        let r = push_request::Model {
            id: id(1),
            tenant_id: id(2),
            user_id: id(3),
            login_id: id(5),
            server_name: "web-01".into(),
            account: "deploy".into(),
            source_ip: "203.0.113.7".into(),
            number: 472,
            status: PushStatus::Pending,
            wrong_numbers: 0,
            created_at: now,
            expires_at: now,
            decided_at: None,
            device_id: None,
        };
        let p = payload(&r, "https://console.example/");
        assert!(!p.contains("472"), "{p}");
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&p).unwrap();
        assert!(!fields.contains_key("number"), "{p}");
        assert!(p.contains("https://console.example/portal/approvals"));
    }
}
