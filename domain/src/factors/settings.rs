//! What an end user sets about their factors besides the factors themselves: the method their
//! login prompt tries first, and signing out their other portal sessions after a change. Both
//! need a fresh step-up (see [`guard`]), and each change is audited and mailed.

use super::{
    end_user,
    guard::{self, SessionRef},
    lock_user, phones,
};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{authenticator, factor_preference, phone, session},
    error::{DomainError, DomainResult},
};
use proto::DefaultMethod;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use uuid::Uuid;

/// The session data's key for the signed-in user (the portal's `functions::ssr::USER_ID`).
pub const SESSION_USER_KEY: &str = "user_id";

/// At a login: the method `user_id` chose to be tried first, if they chose one. The login side
/// still checks that the method is usable (a phone, credits, a device) before trying it.
pub async fn default_method<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Option<DefaultMethod>> {
    Ok(factor_preference::Entity::find_by_id(user_id).one(conn).await?.map(|p| p.default_method))
}

/// The methods the caller could choose now: SMS and call need a confirmed phone, a code needs an
/// authenticator app; push is offered always (the prompt skips it while no device is registered).
pub async fn choosable<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Vec<DefaultMethod>> {
    let phone = phones::has_phone(conn, user_id).await?;
    let apps = authenticator::Entity::find()
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .count(conn)
        .await?;
    Ok(DefaultMethod::ALL
        .iter()
        .copied()
        .filter(|m| match m {
            DefaultMethod::Push => true,
            DefaultMethod::Call | DefaultMethod::Sms => phone,
            DefaultMethod::Code => apps > 0,
        })
        .collect())
}

/// The caller's default method and the ones they may choose.
pub async fn default_method_of(
    ctx: &Ctx,
    caller: &Caller,
) -> DomainResult<(Option<DefaultMethod>, Vec<DefaultMethod>)> {
    let (user_id, _) = end_user(caller)?;
    Ok((default_method(&ctx.db, user_id).await?, choosable(&ctx.db, user_id).await?))
}

/// Sets the method the caller's login prompt tries first. Needs a fresh step-up in `session`;
/// audited and mailed.
pub async fn set_default_method(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    method: DefaultMethod,
) -> DomainResult<()> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    guard::require_step_up(&txn, user_id, session, now).await?;
    if !choosable(&txn, user_id).await?.contains(&method) {
        let needs = match method {
            DefaultMethod::Code => "needs an authenticator app: add one first",
            _ => "needs a confirmed phone: add one first",
        };
        return Err(DomainError::validation("method", needs));
    }
    if default_method(&txn, user_id).await? == Some(method) {
        return Ok(());
    }
    factor_preference::Entity::insert(factor_preference::ActiveModel {
        user_id: Set(user_id),
        tenant_id: Set(tenant_id),
        default_method: Set(method),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(factor_preference::Column::UserId)
            .update_columns([factor_preference::Column::DefaultMethod, factor_preference::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorDefaultMethod,
            target: caller.email.clone(),
            detail: format!("default method {method}"),
        },
    )
    .await?;
    let what = format!("Your default sign-in method became: {}", method.label().to_lowercase());
    guard::tell(ctx, &txn, tenant_id, &caller.email, what, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(())
}

/// A factor that has a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    Authenticator,
    Phone,
}

/// Renames one of the caller's confirmed authenticators or their phone. Needs a fresh step-up
/// in `session`; audited and mailed.
pub async fn rename(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    kind: Named,
    id: Uuid,
    name: &str,
) -> DomainResult<String> {
    let (user_id, tenant_id) = end_user(caller)?;
    let name = super::clean_name("name", name, super::authenticators::NAME_MAX, "")?;
    if name.is_empty() {
        return Err(DomainError::validation("name", "is required"));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let (old, what) = match kind {
        Named::Authenticator => {
            let found = authenticator::Entity::find_by_id(id)
                .filter(authenticator::Column::UserId.eq(user_id))
                .filter(authenticator::Column::ConfirmedAt.is_not_null())
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound("authenticator"))?;
            guard::require_step_up(&txn, user_id, session, now).await?;
            let old = found.name.clone();
            let mut am: authenticator::ActiveModel = found.into();
            am.name = Set(name.clone());
            authenticator::Entity::update(am).exec(&txn).await?;
            (old, "authenticator app")
        }
        Named::Phone => {
            let found = phone::Entity::find_by_id(id)
                .filter(phone::Column::UserId.eq(user_id))
                .filter(phone::Column::ConfirmedAt.is_not_null())
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound("phone"))?;
            guard::require_step_up(&txn, user_id, session, now).await?;
            let old = found.name.clone();
            let mut am: phone::ActiveModel = found.into();
            am.name = Set(name.clone());
            phone::Entity::update(am).exec(&txn).await?;
            (old, "phone")
        }
    };
    if old == name {
        return Ok(name);
    }
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorRenamed,
            target: caller.email.clone(),
            detail: format!("{what} {old:?} renamed {name:?}"),
        },
    )
    .await?;
    let told = format!("The {what} \"{old}\" was renamed \"{name}\"");
    guard::tell(ctx, &txn, tenant_id, &caller.email, told, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(name)
}

/// Whether the stored session data `data` (JSON) is signed in as `user_id`.
pub(crate) fn belongs_to(data: &str, user_id: Uuid) -> bool {
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get(SESSION_USER_KEY).and_then(|u| u.as_str()).map(|u| u == user_id.to_string()))
        .unwrap_or(false)
}

/// Signs the caller out everywhere but the session `keep` (the id under which the session store
/// keeps the current one). Needs a fresh step-up in `session`, so a stolen password alone
/// cannot sign the person out. Returns how many sessions ended; audited when any did.
pub async fn sign_out_other_sessions(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    step_up: SessionRef,
    keep: &str,
) -> DomainResult<u64> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    guard::require_step_up(&txn, user_id, step_up, now).await?;
    // The user's id is in the data of each of their sessions; the LIKE narrows, the parse decides.
    let candidates = session::Entity::find()
        .filter(session::Column::Data.contains(user_id.to_string()))
        .filter(session::Column::Id.ne(keep))
        .all(&txn)
        .await?;
    let ids: Vec<String> = candidates.into_iter().filter(|s| belongs_to(&s.data, user_id)).map(|s| s.id).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let ended = session::Entity::delete_many().filter(session::Column::Id.is_in(ids)).exec(&txn).await?.rows_affected;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorOtherSessionsSignedOut,
            target: caller.email.clone(),
            detail: format!("{ended} other session{} signed out", if ended == 1 { "" } else { "s" }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_belongs_to_the_user_named_under_its_user_key() {
        let me = Uuid::new_v4();
        assert!(belongs_to(&format!(r#"{{"user_id":"{me}","signed_in_at":1}}"#), me));
        assert!(!belongs_to(&format!(r#"{{"user_id":"{}","note":"{me}"}}"#, Uuid::new_v4()), me));
        assert!(!belongs_to("not json", me));
    }
}
