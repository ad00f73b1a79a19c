//! Verification-code mode's side of the people: which end user a server account belongs to
//! ([`mapping`]), and the factors an end user proves a login with: authenticator apps
//! ([`authenticators`], TOTP), phones for SMS passcodes and calls ([`phones`]) and single-use
//! recovery codes ([`recovery`]). Changing them needs a factor the user has or, for a first
//! one, an invitation ([`guard`], `users::invitations`).

pub mod authenticators;
pub mod guard;
pub mod mapping;
pub mod passkeys;
pub mod phones;
pub mod recovery;
pub mod settings;

pub use guard::{step_up, SessionRef};
pub use phones::login_phone;
pub use settings::default_method;

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{authenticator, user},
    error::{DomainError, DomainResult},
};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// The calling end user's id and tenant. Anyone else is refused: only end users have factors.
fn end_user(caller: &Caller) -> DomainResult<(Uuid, Uuid)> {
    caller.require_role(Role::EndUser)?;
    Ok((caller.user_id, caller.tenant_id.ok_or(DomainError::Forbidden)?))
}

/// Holds the user's row until the transaction ends, so that two requests of one user cannot
/// both pass a count (at most five authenticators) before either writes.
async fn lock_user(txn: &DatabaseTransaction, user_id: Uuid) -> DomainResult<()> {
    Ok(crate::db::lock_rows::<user::Entity>(txn, &[user_id]).await?)
}

/// An end user of `tenant_id`; any other user, or another tenant's, is "not found".
pub(crate) async fn end_user_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    user_id: Uuid,
) -> DomainResult<user::Model> {
    user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Role.eq(Role::EndUser.as_str()))
        .one(conn)
        .await?
        .ok_or(DomainError::NotFound("end user"))
}

/// True when the user has something a login can ask for: a confirmed authenticator, a
/// confirmed phone or an unused recovery code.
pub(crate) async fn has_factor<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<bool> {
    Ok(reusable_factors(conn, user_id).await? > 0 || recovery::left(conn, user_id).await? > 0)
}

/// The user's factors that last: confirmed authenticators, passkeys and the confirmed phone. Recovery
/// codes run out, so they never count as the one factor that must remain.
pub(crate) async fn reusable_factors<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<u64> {
    let apps = authenticator::Entity::find()
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .count(conn)
        .await?;
    Ok(apps + passkeys::count(conn, user_id).await? + u64::from(phones::has_phone(conn, user_id).await?))
}

/// The refusal to remove the last factor that lasts.
pub(crate) fn last_factor(name: &str) -> DomainError {
    DomainError::Conflict(format!(
        "\"{name}\" is your only authenticator app, phone or passkey, and one must remain. Add another one \
         first, so that you can still log in, then remove this one."
    ))
}

/// A factor of a person removed or renamed: its audit entry, and what the mail to the person
/// says changed (`None`: no mail, for a label that proves nothing).
pub(crate) struct Changed<'a> {
    pub tenant_id: Uuid,
    /// The person whose factor it is (the audit's target and the mail's recipient).
    pub person: &'a str,
    pub action: AuditAction,
    pub detail: String,
    pub told: Option<String>,
}

/// Who removed or renamed a factor.
pub(crate) enum ChangedBy {
    /// The person, in the portal.
    Person,
    /// Their tenant admin: the person's portal sessions end too (whoever holds a lost phone
    /// may hold one).
    Admin { user_id: Uuid },
}

/// Ends a removal or rename of a factor, whoever made it: the audit entry, the mail to the
/// person, the end of their sessions after an admin's change; then commits `txn` and wakes the
/// outbox.
pub(crate) async fn changed(
    ctx: &Ctx,
    txn: DatabaseTransaction,
    actor: &Actor,
    c: Changed<'_>,
    by: ChangedBy,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let entry = Entry { tenant_id: Some(c.tenant_id), action: c.action, target: c.person.to_owned(), detail: c.detail };
    audit::record(&txn, now, actor, entry).await?;
    let by_whom = match by {
        ChangedBy::Person => guard::by_the_user(actor),
        ChangedBy::Admin { user_id } => {
            crate::users::end_sessions(&txn, user_id).await?;
            format!("your administrator {}", actor.label)
        }
    };
    let mailed = c.told.is_some();
    if let Some(what) = c.told {
        guard::tell(ctx, &txn, c.tenant_id, c.person, what, by_whom, now).await?;
    }
    txn.commit().await?;
    if mailed {
        ctx.outbox_signal.notify_one();
    }
    Ok(())
}

/// Refuses a name that is too long or has control characters; an empty one gets `default`.
pub(crate) fn clean_name(field: &str, name: &str, max: usize, default: &str) -> DomainResult<String> {
    let name = name.trim();
    if name.chars().count() > max {
        return Err(DomainError::validation(field, format!("must be at most {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::validation(field, "must be one line without control characters"));
    }
    Ok(if name.is_empty() { default.to_owned() } else { name.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_short_line_or_the_default() {
        assert_eq!(clean_name("name", "  My phone ", 64, "App").unwrap(), "My phone");
        assert_eq!(clean_name("name", "   ", 64, "App").unwrap(), "App");
        let Err(DomainError::Invalid(e)) = clean_name("name", &"x".repeat(65), 64, "App") else { panic!("accepted") };
        assert_eq!(e[0].field, "name");
        assert!(clean_name("name", "a\nb", 64, "App").is_err());
    }

    #[test]
    fn only_end_users_of_a_tenant_have_factors() {
        let me = Caller {
            user_id: Uuid::new_v4(),
            role: Role::EndUser,
            tenant_id: Some(Uuid::new_v4()),
            email: "a@b.c".into(),
        };
        assert_eq!(end_user(&me).unwrap(), (me.user_id, me.tenant_id.unwrap()));
        let admin = Caller { role: Role::TenantAdmin, ..me.clone() };
        assert!(matches!(end_user(&admin), Err(DomainError::Forbidden)));
        let orphan = Caller { tenant_id: None, ..me };
        assert!(matches!(end_user(&orphan), Err(DomainError::Forbidden)));
    }
}
