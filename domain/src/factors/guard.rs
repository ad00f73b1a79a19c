//! Who may change an end user's factors. A password alone never may: while the user has a
//! factor, a change needs a fresh step-up (a current code from one of them, typed in the same
//! portal session within [`STEP_UP_VALID_MINUTES`]); a first one comes only from an invitation's
//! own pages (see `users::invitations`), reached by proving its link, once its password is set.
//! A portal session never adds a first factor: someone who knows the password of an active
//! person without one (after a lost phone's factors were removed) must not enrol their own.
//! Every change is mailed to the user.

use super::{end_user, has_factor, lock_user};
use crate::{
    audit::Actor,
    caller::Caller,
    ctx::Ctx,
    entities::factor_step_up,
    error::{DomainError, DomainResult},
    messages, outbox,
    users::invitations,
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

/// How long a step-up lets its session change factors.
pub const STEP_UP_VALID_MINUTES: i64 = 5;
/// Wrong step-up codes one user may type in [`WRONG_WINDOW_MINUTES`], over all sessions.
pub const WRONG_STEP_UPS: u64 = 5;
pub const WRONG_WINDOW_MINUTES: i64 = 15;
/// Step-up rows older than this are of no use to any rule and are dropped.
const KEEP_HOURS: i64 = 24;

/// The portal session a request comes from: an opaque id kept in that session's server-side
/// data. A step-up holds only for the session it was made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionRef(pub Uuid);

/// The error for a change without a fresh step-up.
pub fn code_needed() -> DomainError {
    DomainError::validation(
        "code",
        "Enter a current code from your authenticator app or a recovery code first: changing your sign-in \
         methods needs one, so that someone who learnt your password cannot change them",
    )
}

/// The error for a first factor anywhere but an open invitation's own pages.
pub fn enrolment_closed() -> DomainError {
    DomainError::Conflict(
        "You have no sign-in method yet, and a first one can be added only from the link in the invitation you were \
         sent. Ask your administrator to send you one if you have none or its link no longer works; a link works for \
         24 hours."
            .into(),
    )
}

/// Why a change is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permit {
    /// The user has a factor and this session stepped up lately.
    SteppedUp,
    /// A first factor, allowed by this open invitation.
    FirstFactor { invitation_id: Uuid },
}

async fn fresh_step_up<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    session: SessionRef,
    now: DateTime<Utc>,
) -> DomainResult<Option<DateTime<Utc>>> {
    Ok(factor_step_up::Entity::find()
        .filter(factor_step_up::Column::UserId.eq(user_id))
        .filter(factor_step_up::Column::SessionRef.eq(session.0))
        .filter(factor_step_up::Column::Succeeded.eq(true))
        .filter(factor_step_up::Column::ExpiresAt.gt(now))
        .order_by_desc(factor_step_up::Column::ExpiresAt)
        .one(conn)
        .await?
        .and_then(|s| s.expires_at))
}

/// Whether `session` may change `user_id`'s factors now. Call it inside the change's
/// transaction, after `lock_user`, so the answer holds until the change is written.
pub(crate) async fn permit(
    txn: &DatabaseTransaction,
    user_id: Uuid,
    session: SessionRef,
    now: DateTime<Utc>,
) -> DomainResult<Permit> {
    // A fresh step-up counts even if it spent the user's last recovery code: it proved a factor.
    if fresh_step_up(txn, user_id, session, now).await?.is_some() {
        return Ok(Permit::SteppedUp);
    }
    // The invitation's own pages add under the invitation's id; they proved its link, so
    // whatever factors the person still has (a re-invite after a lost phone) do not matter.
    if let Some(i) = invitations::open_with_password(txn, session.0, user_id, now).await? {
        return Ok(Permit::FirstFactor { invitation_id: i.id });
    }
    if has_factor(txn, user_id).await? {
        return Err(code_needed());
    }
    // No factor, and not an open invitation's own pages (a portal session, or a link that was
    // resent, revoked, expired or used): nothing. Only the link proves the person.
    Err(enrolment_closed())
}

/// Where a portal session keeps its step-up reference and the sign-in it was made in (the
/// app writes it; see `app::functions::portal::ssr::session_ref`).
pub const SESSION_REF_KEY: &str = "factor_session_ref";

/// For changes that need a factor already (renaming one, the default method, signing out other
/// sessions): only a fresh step-up in `session` allows them, never an invitation.
pub(crate) async fn require_step_up<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    session: SessionRef,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    match fresh_step_up(conn, user_id, session, now).await? {
        Some(_) => Ok(()),
        None => Err(code_needed()),
    }
}

/// After a change allowed by `permit`: a first factor uses up its invitation (which makes the
/// account active), and the session that added it counts as stepped up, since it just proved
/// that factor.
pub(crate) async fn after_change(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    user_id: Uuid,
    session: SessionRef,
    permit: Permit,
    actor: &Actor,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if let Permit::FirstFactor { invitation_id } = permit {
        invitations::accepted(txn, tenant_id, user_id, invitation_id, actor, now).await?;
        record(txn, tenant_id, user_id, Some(session), now).await?;
    }
    Ok(())
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    user_id: Uuid,
    session: Option<SessionRef>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    factor_step_up::Entity::insert(factor_step_up::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        session_ref: Set(session.map(|s| s.0)),
        succeeded: Set(session.is_some()),
        created_at: Set(now),
        expires_at: Set(session.map(|_| now + Duration::minutes(STEP_UP_VALID_MINUTES))),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The caller proves a factor they have with a current code from an authenticator app, the code
/// [`super::phones::send_step_up_code`] sent to their phone, or a recovery code; their portal session `session` may then change their factors for
/// [`STEP_UP_VALID_MINUTES`]. The code is spent as at a login: an app code's time step (or a
/// later one) cannot be used again, a recovery code is used up. Wrong codes are counted: past
/// [`WRONG_STEP_UPS`] in [`WRONG_WINDOW_MINUTES`] the user's step-ups are refused for a while.
/// Returns until when the step-up holds.
pub async fn step_up(ctx: &Ctx, caller: &Caller, session: SessionRef, code: &str) -> DomainResult<DateTime<Utc>> {
    let (user_id, tenant_id) = end_user(caller)?;
    if code.trim().is_empty() {
        return Err(DomainError::validation(
            "code",
            "Enter a current code from your authenticator app or a recovery code",
        ));
    }
    if code.chars().count() > 64 {
        return Err(DomainError::validation("code", "must be at most 64 characters"));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    factor_step_up::Entity::delete_many()
        .filter(factor_step_up::Column::UserId.eq(user_id))
        .filter(factor_step_up::Column::CreatedAt.lt(now - Duration::hours(KEEP_HOURS)))
        .exec(&txn)
        .await?;
    let wrong = factor_step_up::Entity::find()
        .filter(factor_step_up::Column::UserId.eq(user_id))
        .filter(factor_step_up::Column::Succeeded.eq(false))
        .filter(factor_step_up::Column::CreatedAt.gt(now - Duration::minutes(WRONG_WINDOW_MINUTES)))
        .count(&txn)
        .await?;
    if wrong >= WRONG_STEP_UPS {
        return Err(DomainError::RateLimited(format!(
            "Too many wrong codes were typed for your account. Try again in {WRONG_WINDOW_MINUTES} minutes."
        )));
    }
    if !has_factor(&txn, user_id).await? {
        return Err(DomainError::Conflict(
            "You have no authenticator app, phone or recovery code yet, so there is no code to check.".into(),
        ));
    }
    let right = match super::authenticators::normalize_code(code) {
        Some(six) => {
            super::authenticators::use_code(ctx, &txn, user_id, &six, now).await?.is_some()
                || super::phones::use_step_up_code(&txn, user_id, &six, now).await?
        }
        None => super::recovery::use_code(&txn, user_id, code, now).await?,
    };
    if !right {
        record(&txn, tenant_id, user_id, None, now).await?;
        txn.commit().await?;
        let left = WRONG_STEP_UPS.saturating_sub(wrong + 1);
        return Err(DomainError::validation(
            "code",
            format!(
                "is not a current code from your authenticator apps, the code sent to your phone, nor an unused \
                 recovery code ({left} more tr{} in the next {WRONG_WINDOW_MINUTES} minutes)",
                if left == 1 { "y" } else { "ies" }
            ),
        ));
    }
    record(&txn, tenant_id, user_id, Some(session), now).await?;
    txn.commit().await?;
    Ok(now + Duration::minutes(STEP_UP_VALID_MINUTES))
}

/// Where the caller stands, for the Sign-in methods page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub has_factor: bool,
    /// Until when this session may change factors (a fresh step-up).
    pub stepped_up_until: Option<DateTime<Utc>>,
    /// Until when the link of the user's open invitation works (only while they have no
    /// factor): their first factor is added there, never in the portal.
    pub enrolment_open_until: Option<DateTime<Utc>>,
}

pub async fn state(ctx: &Ctx, caller: &Caller, session: SessionRef) -> DomainResult<State> {
    let (user_id, _) = end_user(caller)?;
    let now = ctx.clock.now();
    let has = has_factor(&ctx.db, user_id).await?;
    Ok(State {
        has_factor: has,
        stepped_up_until: fresh_step_up(&ctx.db, user_id, session, now).await?,
        enrolment_open_until: if has {
            None
        } else {
            invitations::open_for(&ctx.db, user_id, now).await?.map(|i| i.expires_at)
        },
    })
}

/// Who made a change, as the user's mail says it.
pub(crate) fn by_the_user(actor: &Actor) -> String {
    format!("you, signed in to the portal from {}", actor.source_ip)
}

/// Mails the user about a change to their factors, in the change's transaction (the outbox
/// sends it once the transaction commits; call `ctx.outbox_signal.notify_one()` after it).
pub(crate) async fn tell<C: ConnectionTrait>(
    ctx: &Ctx,
    conn: &C,
    tenant_id: Uuid,
    email: &str,
    what: String,
    by: String,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let portal_url = format!("{}/portal/methods", ctx.public_url.trim_end_matches('/'));
    let m = messages::factor_changed(&messages::FactorChange {
        tenant_id,
        recipient: email,
        what,
        by,
        at: now,
        portal_url: &portal_url,
    });
    outbox::enqueue(conn, now, m).await?;
    Ok(())
}
