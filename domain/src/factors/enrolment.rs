//! Enrolment windows: a tenant admin lets one of their end users who has no factor add a first
//! one, for [`WINDOW_HOURS`]. Without an open window a portal password alone adds nothing.

use super::{end_user_in, guard, has_factor, lock_user};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{authenticator, enrolment_window, recovery_code, user},
    error::{DomainError, DomainResult},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// How long a window stays open.
pub const WINDOW_HOURS: i64 = 24;

/// One end user as their tenant admin sees their sign-in methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndUserFactors {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub authenticators: u64,
    pub recovery_codes_left: u64,
    /// Until when the user may add a first factor; `None` when no window is open.
    pub enrolment_open_until: Option<DateTime<Utc>>,
}

impl EndUserFactors {
    pub fn has_factor(&self) -> bool {
        self.authenticators > 0 || self.recovery_codes_left > 0
    }
}

/// Counts per user, of the rows `ids` (one per row) names.
fn tally(ids: Vec<Uuid>) -> HashMap<Uuid, u64> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// The caller's tenant's end users, by email, with their factors and enrolment window.
pub async fn end_users(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<EndUserFactors>> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Role.eq(Role::EndUser.as_str()))
        .order_by_asc(user::Column::Email)
        .all(&ctx.db)
        .await?;
    let apps = tally(
        authenticator::Entity::find()
            .select_only()
            .column(authenticator::Column::UserId)
            .filter(authenticator::Column::TenantId.eq(tenant_id))
            .filter(authenticator::Column::ConfirmedAt.is_not_null())
            .into_tuple()
            .all(&ctx.db)
            .await?,
    );
    let codes = tally(
        recovery_code::Entity::find()
            .select_only()
            .column(recovery_code::Column::UserId)
            .filter(recovery_code::Column::TenantId.eq(tenant_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .into_tuple()
            .all(&ctx.db)
            .await?,
    );
    let mut windows: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for w in enrolment_window::Entity::find()
        .filter(enrolment_window::Column::TenantId.eq(tenant_id))
        .filter(enrolment_window::Column::UsedAt.is_null())
        .filter(enrolment_window::Column::ExpiresAt.gt(now))
        .all(&ctx.db)
        .await?
    {
        let until = windows.entry(w.user_id).or_insert(w.expires_at);
        *until = (*until).max(w.expires_at);
    }
    Ok(users
        .into_iter()
        .map(|u| {
            let authenticators = apps.get(&u.id).copied().unwrap_or(0);
            let recovery_codes_left = codes.get(&u.id).copied().unwrap_or(0);
            let has = authenticators > 0 || recovery_codes_left > 0;
            EndUserFactors {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                authenticators,
                recovery_codes_left,
                // A window matters only to a user without factors.
                enrolment_open_until: if has { None } else { windows.get(&u.id).copied() },
            }
        })
        .collect())
}

/// Writes an open window (the demo's users get one without a mail).
pub(crate) async fn insert<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    user_id: Uuid,
    opened_by: &str,
    now: DateTime<Utc>,
) -> DomainResult<DateTime<Utc>> {
    let until = now + Duration::hours(WINDOW_HOURS);
    enrolment_window::Entity::insert(enrolment_window::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        opened_by: Set(opened_by.to_owned()),
        opened_at: Set(now),
        expires_at: Set(until),
        used_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(until)
}

/// Opens an enrolment window for `user_id`, an end user of the caller's tenant (anyone else is
/// "not found"), for [`WINDOW_HOURS`]; audited and mailed to the user. A user who has a factor
/// already adds the next one with a code from it, so no window is opened for them.
/// Returns the user's email and until when the window is open.
pub async fn open(ctx: &Ctx, caller: &Caller, actor: &Actor, user_id: Uuid) -> DomainResult<(String, DateTime<Utc>)> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let person = end_user_in(&txn, tenant_id, user_id).await?;
    lock_user(&txn, person.id).await?;
    if has_factor(&txn, person.id).await? {
        return Err(DomainError::Conflict(format!(
            "{} already has a sign-in method, and adds more on the portal with a code from it. \
             Enrolment is for a first sign-in method.",
            person.email
        )));
    }
    let until = insert(&txn, tenant_id, person.id, &actor.label, now).await?;
    let when = until.format("%Y-%m-%d %H:%M UTC");
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorEnrolmentOpened,
            target: person.email.clone(),
            detail: format!("{} may add a first sign-in method until {when}", person.email),
        },
    )
    .await?;
    guard::tell(
        ctx,
        &txn,
        tenant_id,
        &person.email,
        format!(
            "Enrolment was opened until {when}: until then a first sign-in method can be added to your account on \
             the portal"
        ),
        format!("your administrator {}", actor.label),
        now,
    )
    .await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok((person.email, until))
}
