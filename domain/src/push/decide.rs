//! Deciding push requests in the portal. The person sees their pending requests (never the
//! number: that is on the login prompt, and typing it proves they are looking at this login),
//! and approves with the number, or denies, or reports "This wasn't me" — each signed by one of
//! their approval devices over [`proto::push::signed_message`]. The request's row is locked
//! while it is decided, so of two decisions exactly one counts, and a decided request takes no
//! other: a replayed signature finds it decided, and a signature names its request, so it
//! cannot be moved to another.

use super::{end_user, mute, signature};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{approval_device, push_request, tenant_fraud_policy, user},
    error::{DomainError, DomainResult},
    messages::escape_html,
    outbox::{self, Channel, MessageKind, NewMessage},
};
use chrono::{DateTime, Utc};
use proto::push::{signed_message, PushDecision, PushStatus};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

/// Wrong numbers a request takes; the last one denies it.
pub const WRONG_NUMBERS: i32 = 3;
/// The length in bytes of a WebCrypto ECDSA P-256 signature (r‖s).
pub const SIGNATURE_BYTES: usize = 64;

/// A pending request as the portal shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: Uuid,
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub seconds_left: i64,
}

/// A decision as the portal sends it.
#[derive(Clone, Debug)]
pub struct Decision {
    pub request_id: Uuid,
    pub device_id: Uuid,
    /// The number typed (approvals; deny and "This wasn't me" sign 0).
    pub number: u16,
    pub decision: PushDecision,
    /// ECDSA P-256 over SHA-256, raw r‖s.
    pub signature: Vec<u8>,
}

/// What became of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: PushStatus,
    /// Set when the decision paused the person's notifications.
    pub muted_until: Option<DateTime<Utc>>,
}

/// `user_id`'s requests still waiting at `now`, oldest first.
pub async fn pending_for<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Vec<PendingRequest>> {
    Ok(push_request::Entity::find()
        .filter(push_request::Column::TenantId.eq(tenant_id))
        .filter(push_request::Column::UserId.eq(user_id))
        .filter(push_request::Column::Status.eq(PushStatus::Pending))
        .filter(push_request::Column::ExpiresAt.gt(now))
        .order_by_asc(push_request::Column::CreatedAt)
        .order_by_asc(push_request::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| PendingRequest {
            id: r.id,
            // Rounded up: a request with 0.4 s left is not shown as having none.
            seconds_left: ((r.expires_at - now).num_milliseconds().max(0) + 999) / 1000,
            server_name: r.server_name,
            account: r.account,
            source_ip: r.source_ip,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
        .collect())
}

/// The caller's pending requests (an end user's own only).
pub async fn pending(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<PendingRequest>> {
    let (user_id, tenant_id) = end_user(caller)?;
    pending_for(&ctx.db, tenant_id, user_id, ctx.clock.now()).await
}

fn bad_signature() -> DomainError {
    DomainError::validation(
        "signature",
        "does not verify with this approval device's key for this request, number and decision",
    )
}

/// Who decided: an approval device (by its signature) or a passkey (by its assertion).
#[derive(Clone, Debug)]
pub struct Approver {
    pub id: Uuid,
    /// How the audit names it: `device "Laptop"`, `passkey "YubiKey"`.
    pub label: String,
}

/// Refuses a number no login prompt shows.
pub(crate) fn check_number(number: u16, decision: PushDecision) -> DomainResult<()> {
    if decision == PushDecision::Approve && !(100..=999).contains(&number) {
        return Err(DomainError::validation("number", "must be the 3-digit number the login prompt shows"));
    }
    if number > 999 {
        return Err(DomainError::validation("number", "must be at most 3 digits"));
    }
    Ok(())
}

/// Locks and reads one of the user's requests, in the decision's transaction.
pub(crate) async fn lock_request(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    user_id: Uuid,
    request_id: Uuid,
) -> DomainResult<push_request::Model> {
    crate::db::lock_rows::<push_request::Entity>(txn, &[request_id]).await?;
    push_request::Entity::find_by_id(request_id)
        .filter(push_request::Column::TenantId.eq(tenant_id))
        .filter(push_request::Column::UserId.eq(user_id))
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound("push request"))
}

/// Records a decision whose proof did not verify (a session that cannot sign may be a stolen
/// one) and commits.
pub(crate) async fn refused_signature(
    txn: DatabaseTransaction,
    caller: &Caller,
    actor: &Actor,
    request: &push_request::Model,
    decision: PushDecision,
    how: String,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let entry = Entry {
        tenant_id: Some(request.tenant_id),
        action: AuditAction::PushSignatureRefused,
        target: caller.email.clone(),
        detail: format!(
            "{} on {}@{} from {}: {how}",
            decision.as_str(),
            request.account,
            request.server_name,
            request.source_ip,
        ),
    };
    audit::record(&txn, now, actor, entry).await?;
    txn.commit().await?;
    Ok(())
}

/// Decides one of the caller's pending requests. The device must be the caller's, the signature
/// its key's over this request, number and decision, and the request pending and not expired.
/// A wrong number is refused and counted (the [`WRONG_NUMBERS`]th denies the request). "This
/// wasn't me" denies, mails the tenant's admins and pauses the person's notifications;
/// [`mute::DENIALS_IN_A_ROW`] denials pause them too. Each decision is audited. (A passkey
/// decides through `factors::passkeys::approve_finish`, which ends in [`apply`] too.)
pub async fn decide(ctx: &Ctx, caller: &Caller, actor: &Actor, d: &Decision) -> DomainResult<Outcome> {
    let (user_id, tenant_id) = end_user(caller)?;
    if d.signature.len() != SIGNATURE_BYTES {
        return Err(DomainError::validation(
            "signature",
            format!("must be {SIGNATURE_BYTES} bytes (ECDSA P-256, r and s), base64-encoded"),
        ));
    }
    check_number(d.number, d.decision)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let request = lock_request(&txn, tenant_id, user_id, d.request_id).await?;
    let device = approval_device::Entity::find_by_id(d.device_id)
        .filter(approval_device::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("approval device"))?;
    if !signature::verifies(&device.public_key, &signed_message(request.id, d.number, d.decision), &d.signature) {
        tracing::warn!(request = %request.id, device = %device.id, "a push decision with a bad signature was refused");
        let how = format!("the signature does not verify with device {:?}", device.name);
        refused_signature(txn, caller, actor, &request, d.decision, how, now).await?;
        return Err(bad_signature());
    }
    let approver = Approver { id: device.id, label: format!("device {:?}", device.name) };
    apply(ctx, txn, caller, actor, &request, &approver, d.number, d.decision, now).await
}

/// Makes a proven decision on the locked `request`: refused if it is no longer pending; a wrong
/// number counted; else settled, audited (and for "This wasn't me", the mute, the lock the
/// tenant chose and the admins' mail). Commits.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply(
    ctx: &Ctx,
    txn: DatabaseTransaction,
    caller: &Caller,
    actor: &Actor,
    request: &push_request::Model,
    approver: &Approver,
    number: u16,
    decision: PushDecision,
    now: DateTime<Utc>,
) -> DomainResult<Outcome> {
    let tenant_id = request.tenant_id;
    if request.status != PushStatus::Pending {
        return Err(DomainError::Conflict(format!(
            "This request was already decided ({}): nothing changed.",
            request.status.as_str()
        )));
    }
    if request.expires_at <= now {
        return Err(DomainError::Conflict(
            "This request has expired: the login was refused. Start the login again to get a new one.".into(),
        ));
    }
    let what = format!("{}@{} from {}", request.account, request.server_name, request.source_ip);
    let audit_entry =
        |action, detail: String| Entry { tenant_id: Some(tenant_id), action, target: caller.email.clone(), detail };
    let by = &approver.label;
    match decision {
        PushDecision::Approve if i32::from(number) != request.number => {
            let wrong = request.wrong_numbers + 1;
            let denied = wrong >= WRONG_NUMBERS;
            push_request::Entity::update_many()
                .col_expr(push_request::Column::WrongNumbers, Expr::value(wrong))
                .filter(push_request::Column::Id.eq(request.id))
                .exec(&txn)
                .await?;
            audit::record(
                &txn,
                now,
                actor,
                audit_entry(AuditAction::PushWrongNumber, format!("{what}: wrong number {wrong} of {WRONG_NUMBERS}")),
            )
            .await?;
            if !denied {
                txn.commit().await?;
                let left = WRONG_NUMBERS - wrong;
                return Err(DomainError::validation(
                    "number",
                    format!(
                        "is not the number the login prompt shows ({left} more tr{} before the login is denied)",
                        if left == 1 { "y" } else { "ies" }
                    ),
                ));
            }
            settle(&txn, request, approver, PushStatus::Denied, now).await?;
            audit::record(
                &txn,
                now,
                actor,
                audit_entry(AuditAction::PushDenied, format!("{what}: {WRONG_NUMBERS} wrong numbers")),
            )
            .await?;
            let muted = mute_after_denial(&txn, request, now).await?;
            txn.commit().await?;
            let paused =
                if muted { " Notifications are paused for a while; open the portal to see new requests." } else { "" };
            Err(DomainError::Conflict(format!(
                "That was the {WRONG_NUMBERS}rd wrong number, so the login was denied. If it was you, start the login again.{paused}"
            )))
        }
        PushDecision::Approve => {
            settle(&txn, request, approver, PushStatus::Approved, now).await?;
            audit::record(&txn, now, actor, audit_entry(AuditAction::PushApproved, format!("{what} with {by}")))
                .await?;
            txn.commit().await?;
            Ok(Outcome { status: PushStatus::Approved, muted_until: None })
        }
        PushDecision::Deny => {
            settle(&txn, request, approver, PushStatus::Denied, now).await?;
            audit::record(&txn, now, actor, audit_entry(AuditAction::PushDenied, format!("{what} with {by}"))).await?;
            let muted = mute_after_denial(&txn, request, now).await?;
            txn.commit().await?;
            Ok(Outcome {
                status: PushStatus::Denied,
                muted_until: muted.then(|| now + chrono::Duration::minutes(mute::MUTE_MINUTES)),
            })
        }
        PushDecision::Fraud => {
            settle(&txn, request, approver, PushStatus::Fraud, now).await?;
            mute::record(&txn, request, mute::MuteReason::Fraud, now).await?;
            let lock = tenant_fraud_policy::Entity::find_by_id(tenant_id)
                .one(&txn)
                .await?
                .is_some_and(|p| p.lock_on_fraud_report);
            if lock {
                let why = "reported a login request as not theirs";
                crate::users::lock_in_txn(&txn, tenant_id, actor, request.user_id, why, now).await?;
            }
            let lock_note = if lock { "; locked, as the tenant chose" } else { "" };
            audit::record(
                &txn,
                now,
                actor,
                audit_entry(AuditAction::PushFraudReported, format!("{what} with {by}{lock_note}")),
            )
            .await?;
            tell_admins(ctx, &txn, request, &caller.email, now).await?;
            txn.commit().await?;
            ctx.outbox_signal.notify_one();
            Ok(Outcome {
                status: PushStatus::Fraud,
                muted_until: Some(now + chrono::Duration::minutes(mute::MUTE_MINUTES)),
            })
        }
    }
}

/// Writes the decision; the status condition makes it count once even without the row lock.
async fn settle(
    txn: &DatabaseTransaction,
    request: &push_request::Model,
    approver: &Approver,
    status: PushStatus,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let done = push_request::Entity::update_many()
        .col_expr(push_request::Column::Status, Expr::value(status))
        .col_expr(push_request::Column::DecidedAt, Expr::value(Some(now)))
        .col_expr(push_request::Column::DeviceId, Expr::value(Some(approver.id)))
        .filter(push_request::Column::Id.eq(request.id))
        .filter(push_request::Column::Status.eq(PushStatus::Pending))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(DomainError::Conflict("This request was already decided: nothing changed.".into()));
    }
    // A passkey's use is noted where its assertion is checked; this touches only a device.
    approval_device::Entity::update_many()
        .col_expr(approval_device::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(approval_device::Column::Id.eq(approver.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// After a denial: pauses notifications if it made [`mute::DENIALS_IN_A_ROW`] in a row.
async fn mute_after_denial(
    txn: &DatabaseTransaction,
    request: &push_request::Model,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    if mute::denied_in_a_row(txn, request.user_id).await? {
        mute::record(txn, request, mute::MuteReason::Denials, now).await?;
        return Ok(true);
    }
    Ok(false)
}

/// Mails each admin of the tenant that `who` reported a login as not theirs (in the decision's
/// transaction: the outbox sends once it commits).
async fn tell_admins(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    request: &push_request::Model,
    who: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let admins = user::Entity::find()
        .filter(user::Column::TenantId.eq(request.tenant_id))
        .filter(user::Column::Role.eq(Role::TenantAdmin.as_str()))
        .order_by_asc(user::Column::Email)
        .all(txn)
        .await?;
    let audit_url = format!("{}/hss/login-audit", ctx.public_url.trim_end_matches('/'));
    for admin in admins {
        outbox::enqueue(txn, now, fraud_report(request, who, &admin.email, &audit_url, now)).await?;
    }
    Ok(())
}

/// To a tenant admin: an end user pressed "This wasn't me" on a push request.
fn fraud_report(
    request: &push_request::Model,
    who: &str,
    admin: &str,
    audit_url: &str,
    now: DateTime<Utc>,
) -> NewMessage {
    let subject = format!("{who} reported a login that was not theirs");
    let facts = format!(
        "{who} pressed \"This wasn't me\" on a push request, so the login was denied.\n\n\
         Server: {}\nAccount: {}\nFrom: {}\nRequested: {}\nReported: {}",
        request.server_name,
        request.account,
        request.source_ip,
        request.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        now.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    let advice = format!(
        "Someone may know {who}'s password for this server. Check the login audit at {audit_url}, have the password \
         changed, and look at where the login came from. Push notifications to {who} are paused for {} minutes.",
        mute::MUTE_MINUTES
    );
    let html_lines: String =
        facts.split('\n').filter(|l| !l.is_empty()).map(|l| format!("{}<br>", escape_html(l))).collect();
    NewMessage {
        tenant_id: Some(request.tenant_id),
        channel: Channel::Email,
        kind: MessageKind::PushFraudReported,
        recipient: admin.to_owned(),
        sender_name: "HostGuard".into(),
        subject: subject.clone(),
        body_text: format!("{facts}\n\n{advice}\n"),
        body_html: format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
             <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1f2633;line-height:1.5\">\
             <p>{html_lines}</p><p><b>{}</b></p></body></html>",
            escape_html(&subject),
            escape_html(&advice)
        ),
        secrets: vec![],
    }
}
