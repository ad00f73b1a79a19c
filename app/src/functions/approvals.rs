//! The portal's Approvals page: the person's approval devices, and deciding their pending push
//! requests with a signature from one of them. End users only; the rules are `domain::push`'s.

use crate::models::{AppError, ApprovalDeviceRow, Approvals, DecisionResult, PendingPush, PushDecision};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::models::{AppError, ApprovalDeviceRow, PendingPush};
    use base64::Engine;

    pub fn device_row(d: domain::push::devices::Device) -> ApprovalDeviceRow {
        ApprovalDeviceRow { id: d.id, name: d.name, added: d.added_at, last_used: d.last_used_at }
    }

    pub fn pending_row(r: domain::push::PendingRequest) -> PendingPush {
        PendingPush {
            id: r.id,
            server: r.server_name,
            account: r.account,
            source_ip: r.source_ip,
            requested: r.created_at,
            expires: r.expires_at,
            seconds_left: r.seconds_left,
        }
    }

    /// Bytes the browser sent in base64 (standard or URL-safe, padded or not).
    pub fn base64_field(field: &str, value: &str, what: &str) -> Result<Vec<u8>, AppError> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let v = value.trim();
        STANDARD
            .decode(v)
            .or_else(|_| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')))
            .map_err(|_| domain::DomainError::validation(field, format!("must be {what}, base64-encoded")).into())
    }
}

/// The Approvals page: devices, pending requests, and whether notifications are paused.
#[server(prefix = "/api", endpoint = "portal/approvals")]
pub async fn my_approvals() -> Result<Approvals, AppError> {
    use super::portal::ssr::{caller, existing_session_ref};
    let (ctx, caller) = caller().await?;
    let devices = domain::push::devices::list(&ctx, &caller).await?;
    let pending = domain::push::pending(&ctx, &caller).await?;
    let session = existing_session_ref().await?.unwrap_or(domain::factors::SessionRef(uuid::Uuid::new_v4()));
    let state = domain::factors::guard::state(&ctx, &caller, session).await?;
    let muted_until = domain::push::mute::muted_until(&ctx.db, caller.user_id, ctx.clock.now()).await?;
    Ok(Approvals {
        devices: devices.into_iter().map(ssr::device_row).collect(),
        max_devices: domain::push::devices::MAX_PER_USER,
        pending: pending.into_iter().map(ssr::pending_row).collect(),
        muted_until,
        verified_until: state.stepped_up_until,
        has_factor: state.has_factor,
    })
}

/// The person's pending push requests, oldest first.
#[server(prefix = "/api", endpoint = "portal/approvals/pending")]
pub async fn my_pending_pushes() -> Result<Vec<PendingPush>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    Ok(domain::push::pending(&ctx, &caller).await?.into_iter().map(ssr::pending_row).collect())
}

/// Registers this browser as an approval device: `public_key` is its WebCrypto P-256 public key
/// (SubjectPublicKeyInfo DER, base64). Needs a fresh step-up in this session.
#[server(prefix = "/api", endpoint = "portal/approvals/devices/register")]
pub async fn register_device(name: String, public_key: String) -> Result<ApprovalDeviceRow, AppError> {
    use super::portal::ssr::{actor, caller, session_ref};
    let (ctx, caller) = caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let key = ssr::base64_field("public_key", &public_key, "a P-256 public key as SubjectPublicKeyInfo DER")?;
    let actor = actor(&caller).await;
    let d = domain::push::devices::register(&ctx, &caller, &actor, session_ref().await?, &name, &key).await?;
    Ok(ssr::device_row(d))
}

#[server(prefix = "/api", endpoint = "portal/approvals/devices/rename")]
pub async fn rename_device(id: String, name: String) -> Result<ApprovalDeviceRow, AppError> {
    use super::portal::ssr::{actor, caller, parse_id};
    let (ctx, caller) = caller().await?;
    let id = parse_id(&id, "approval device")?;
    let actor = actor(&caller).await;
    Ok(ssr::device_row(domain::push::devices::rename(&ctx, &caller, &actor, id, &name).await?))
}

/// Removes an approval device. Needs a fresh step-up in this session.
#[server(prefix = "/api", endpoint = "portal/approvals/devices/remove")]
pub async fn remove_device(id: String) -> Result<(), AppError> {
    use super::portal::ssr::{actor, caller, parse_id, session_ref};
    let (ctx, caller) = caller().await?;
    let id = parse_id(&id, "approval device")?;
    let actor = actor(&caller).await;
    domain::push::devices::remove(&ctx, &caller, &actor, session_ref().await?, id).await?;
    Ok(())
}

/// Approves (with the number the login prompt shows), denies, or reports a push request as not
/// the person's. `signature` is the device's ECDSA P-256 signature (raw r‖s, base64) over
/// `proto::push::signed_message(request_id, number, decision)`.
#[server(prefix = "/api", endpoint = "portal/approvals/decide")]
pub async fn decide_push(
    request_id: String,
    device_id: String,
    number: String,
    decision: PushDecision,
    signature: String,
) -> Result<DecisionResult, AppError> {
    use super::portal::ssr::{actor, caller, parse_id};
    let (ctx, caller) = caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let request_id = parse_id(&request_id, "push request")?;
    let device_id = parse_id(&device_id, "approval device")?;
    let typed = number.trim();
    let number = if typed.is_empty() && decision != PushDecision::Approve {
        0
    } else {
        typed.parse::<u16>().ok().filter(|n| *n <= 999).ok_or_else(|| {
            AppError::from(domain::DomainError::validation(
                "number",
                "must be the 3-digit number the login prompt shows",
            ))
        })?
    };
    let signature = ssr::base64_field("signature", &signature, "an ECDSA P-256 signature (r and s)")?;
    let actor = actor(&caller).await;
    let d = domain::push::Decision { request_id, device_id, number, decision, signature };
    let outcome = domain::push::decide(&ctx, &caller, &actor, &d).await?;
    Ok(DecisionResult { status: outcome.status, muted_until: outcome.muted_until })
}

/// Whether "This wasn't me" on a push also locks the person (the tenant's choice; off by default).
#[server(prefix = "/api", endpoint = "push/policy")]
pub async fn push_policy() -> Result<bool, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    Ok(domain::push::policy::lock_on_fraud_report(&ctx, &caller).await?)
}

/// Sets it for the tenant admin's tenant; audited.
#[server(prefix = "/api", endpoint = "push/policy/save")]
pub async fn save_push_policy(lock_on_fraud_report: bool) -> Result<(), AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let actor = super::ssr::actor(&caller).await;
    domain::push::policy::set_lock_on_fraud_report(&ctx, &caller, &actor, lock_on_fraud_report).await?;
    Ok(())
}
