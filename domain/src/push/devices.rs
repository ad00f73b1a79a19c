//! Approval devices: the browsers and phones an end user approves push requests with. Each
//! made a non-extractable WebCrypto P-256 key pair when it registered and keeps the private
//! half; the console keeps the public half and checks every decision's signature with it, so a
//! stolen portal session alone cannot approve a login. Adding or removing one needs a fresh
//! step-up, as any change of sign-in methods does, and is audited and mailed to the person.

use super::{end_user, signature};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{approval_device, user},
    error::{DomainError, DomainResult},
    factors::guard::{self, Permit, SessionRef},
    factors::{Changed, ChangedBy},
};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub const MAX_PER_USER: u64 = 10;
pub const NAME_MAX: usize = 64;
/// A P-256 SubjectPublicKeyInfo is 91 bytes; anything much larger is not one.
const KEY_MAX_BYTES: usize = 512;

/// A device as its owner sees it (the public key stays inside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    pub added_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<approval_device::Model> for Device {
    fn from(m: approval_device::Model) -> Self {
        Self { id: m.id, name: m.name, added_at: m.created_at, last_used_at: m.last_used_at }
    }
}

/// A device name: one line, at most [`NAME_MAX`] characters; empty is "This browser".
fn clean_name(name: &str) -> DomainResult<String> {
    let name = name.trim();
    if name.chars().count() > NAME_MAX {
        return Err(DomainError::validation("name", format!("must be at most {NAME_MAX} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::validation("name", "must be one line without control characters"));
    }
    Ok(if name.is_empty() { "This browser".to_owned() } else { name.to_owned() })
}

/// The caller's devices, oldest first.
pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Device>> {
    let (user_id, _) = end_user(caller)?;
    Ok(approval_device::Entity::find()
        .filter(approval_device::Column::UserId.eq(user_id))
        .order_by_asc(approval_device::Column::CreatedAt)
        .order_by_asc(approval_device::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(Device::from)
        .collect())
}

/// The change needs a step-up, not an enrolment window: a device approves logins, which a
/// person with no other factor could not prove were theirs when changing it later.
fn stepped_up(permit: Permit) -> DomainResult<()> {
    match permit {
        Permit::SteppedUp => Ok(()),
        Permit::FirstFactor { .. } => Err(DomainError::Conflict(
            "Add an authenticator app or recovery codes first: approving logins on this device needs a code \
             from one of them to set up."
                .into(),
        )),
    }
}

/// Registers a device with its public key (SubjectPublicKeyInfo DER of a P-256 key, as
/// WebCrypto's `exportKey("spki")` gives it). Needs a fresh step-up in `session`.
pub async fn register(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    name: &str,
    public_key: &[u8],
) -> DomainResult<Device> {
    let (user_id, tenant_id) = end_user(caller)?;
    let name = clean_name(name)?;
    if public_key.len() > KEY_MAX_BYTES || signature::parse_public_key(public_key).is_none() {
        return Err(DomainError::validation(
            "public_key",
            "must be a P-256 public key as SubjectPublicKeyInfo DER, base64-encoded",
        ));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    stepped_up(guard::permit(&txn, user_id, session, now).await?)?;
    let existing =
        approval_device::Entity::find().filter(approval_device::Column::UserId.eq(user_id)).all(&txn).await?;
    if existing.iter().any(|d| d.public_key == public_key) {
        return Err(DomainError::Conflict("This device is already registered.".into()));
    }
    if existing.len() as u64 >= MAX_PER_USER {
        return Err(DomainError::Conflict(format!(
            "You already have {MAX_PER_USER} approval devices, the most allowed. Remove one you no longer use first."
        )));
    }
    let row = approval_device::Model {
        id: Uuid::new_v4(),
        tenant_id,
        user_id,
        name,
        public_key: public_key.to_vec(),
        created_at: now,
        last_used_at: None,
    };
    approval_device::Entity::insert(approval_device::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::PushDeviceAdded,
            target: caller.email.clone(),
            detail: format!("approval device {:?}", row.name),
        },
    )
    .await?;
    let what = format!("The approval device \"{}\" was added", row.name);
    guard::tell(ctx, &txn, tenant_id, &caller.email, what, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(row.into())
}

async fn own_device<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    id: Uuid,
) -> DomainResult<approval_device::Model> {
    approval_device::Entity::find_by_id(id)
        .filter(approval_device::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .ok_or(DomainError::NotFound("approval device"))
}

/// Renames one of the caller's devices (a label only: no step-up). Audited.
pub async fn rename(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid, name: &str) -> DomainResult<Device> {
    let (user_id, tenant_id) = end_user(caller)?;
    let name = clean_name(name)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let found = own_device(&txn, user_id, id).await?;
    let old = found.name.clone();
    let mut am: approval_device::ActiveModel = found.into();
    am.name = Set(name);
    let saved = approval_device::Entity::update(am).exec(&txn).await?;
    let change = Changed {
        tenant_id,
        person: &caller.email,
        action: AuditAction::PushDeviceRenamed,
        detail: format!("approval device {old:?} is now {:?}", saved.name),
        told: None,
    };
    crate::factors::changed(ctx, txn, actor, change, ChangedBy::Person, now).await?;
    Ok(saved.into())
}

/// Removes one of the caller's devices: it can no longer approve. Needs a fresh step-up in
/// `session`; audited and mailed to the person.
pub async fn remove(ctx: &Ctx, caller: &Caller, actor: &Actor, session: SessionRef, id: Uuid) -> DomainResult<()> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let found = own_device(&txn, user_id, id).await?;
    stepped_up(guard::permit(&txn, user_id, session, now).await?)?;
    approval_device::Entity::delete_by_id(found.id).exec(&txn).await?;
    let change = Changed {
        tenant_id,
        person: &caller.email,
        action: AuditAction::PushDeviceRemoved,
        detail: format!("approval device {:?}", found.name),
        told: Some(format!("The approval device \"{}\" was removed", found.name)),
    };
    crate::factors::changed(ctx, txn, actor, change, ChangedBy::Person, now).await
}

/// How many devices `user_id` has (the portal says so before a first registration).
pub async fn count(ctx: &Ctx, user_id: Uuid) -> DomainResult<u64> {
    Ok(approval_device::Entity::find().filter(approval_device::Column::UserId.eq(user_id)).count(&ctx.db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_short_line() {
        assert_eq!(clean_name("  Pixel 8 ").unwrap(), "Pixel 8");
        assert_eq!(clean_name("").unwrap(), "This browser");
        assert!(clean_name(&"x".repeat(65)).is_err());
        assert!(clean_name("a\nb").is_err());
    }

    #[test]
    fn a_first_factor_invitation_does_not_add_a_device() {
        assert!(stepped_up(Permit::SteppedUp).is_ok());
        assert!(matches!(
            stepped_up(Permit::FirstFactor { invitation_id: Uuid::nil() }),
            Err(DomainError::Conflict(_))
        ));
    }
}
