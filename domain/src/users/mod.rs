//! The tenant's end users as their tenant admin manages them on the Users page: where each
//! account stands ([`UserState`]), its factors by name and kind (never secrets), its server
//! accounts and last sign-in; locking and unlocking; and removing a factor for someone who lost
//! a phone. Invitations, the only way to a first factor, are in [`invitations`].

pub mod invitations;

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{
        account_mapping, approval_device, authenticator, invitation, passkey, phone, push_request, recovery_code,
        server, session, user,
    },
    error::{DomainError, DomainResult},
    factors::{end_user_in, Changed, ChangedBy},
    servers::{page_offset, Page},
};
use chrono::{DateTime, Utc};
use proto::push::PushStatus;
pub use proto::users::{FactorKind, InvitationStatus, UserState};
use proto::Channel;
use sea_orm::{
    sea_query::{Condition, Expr},
    ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Where `u`'s account stands. A lock wins over everything: a locked invitee stays locked.
pub fn state_of(u: &user::Model) -> UserState {
    if u.locked_at.is_some() {
        UserState::Locked
    } else if u.activated_at.is_none() {
        UserState::Invited
    } else {
        UserState::Active
    }
}

/// One factor as the admin sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactorInfo {
    pub kind: FactorKind,
    /// The authenticator's id (what *Remove* names); `None` for the set of recovery codes.
    pub id: Option<Uuid>,
    /// The authenticator's name, or "10 recovery codes left".
    pub name: String,
    pub added_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A person's latest invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationInfo {
    pub id: Uuid,
    pub channel: Channel,
    pub address: String,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: InvitationStatus,
    pub password_set: bool,
}

impl InvitationInfo {
    pub(crate) fn of(i: &invitation::Model, now: DateTime<Utc>) -> Self {
        Self {
            id: i.id,
            channel: i.channel,
            address: i.address.clone(),
            sent_at: i.sent_at,
            expires_at: i.expires_at,
            status: invitations::status_of(i, now),
            password_set: i.password_set_at.is_some(),
        }
    }
}

/// One end user on the Users page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub state: UserState,
    pub created_at: DateTime<Utc>,
    pub locked_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub factors: Vec<FactorInfo>,
    /// "root (all servers)", "deploy on web-01".
    pub server_accounts: Vec<String>,
    pub invitation: Option<InvitationInfo>,
}

#[derive(Clone, Debug, Default)]
pub struct PeopleQuery {
    /// Part of the email or name.
    pub search: String,
    pub state: Option<UserState>,
    pub page: u64,
    pub page_size: u64,
}

/// The caller's tenant's end users, by email, a page at a time.
pub async fn list(ctx: &Ctx, caller: &Caller, q: &PeopleQuery) -> DomainResult<Page<Person>> {
    let tenant_id = caller.admin_tenant()?;
    let offset = page_offset(q.page, q.page_size)?;
    if q.search.chars().count() > 254 {
        return Err(DomainError::validation("search", "must be at most 254 characters"));
    }
    let mut find = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Role.eq(Role::EndUser.as_str()));
    let search = q.search.trim();
    if !search.is_empty() {
        find = find.filter(
            Condition::any()
                .add(crate::search::contains(user::Column::Email, search))
                .add(crate::search::contains(user::Column::DisplayName, search)),
        );
    }
    find = match q.state {
        None => find,
        Some(UserState::Locked) => find.filter(user::Column::LockedAt.is_not_null()),
        Some(UserState::Invited) => {
            find.filter(user::Column::LockedAt.is_null()).filter(user::Column::ActivatedAt.is_null())
        }
        Some(UserState::Active) => {
            find.filter(user::Column::LockedAt.is_null()).filter(user::Column::ActivatedAt.is_not_null())
        }
    };
    let total = find.clone().count(&ctx.db).await?;
    let users = find.order_by_asc(user::Column::Email).offset(offset).limit(q.page_size).all(&ctx.db).await?;
    let items = describe(ctx, tenant_id, users).await?;
    Ok(Page { items, total })
}

/// One end user of the caller's tenant; anyone else is "not found".
pub async fn get(ctx: &Ctx, caller: &Caller, user_id: Uuid) -> DomainResult<Person> {
    let tenant_id = caller.admin_tenant()?;
    let u = end_user_in(&ctx.db, tenant_id, user_id).await?;
    describe(ctx, tenant_id, vec![u]).await?.pop().ok_or(DomainError::NotFound("end user"))
}

/// The factors, server accounts and latest invitation of `users` (all of `tenant_id`).
async fn describe(ctx: &Ctx, tenant_id: Uuid, users: Vec<user::Model>) -> DomainResult<Vec<Person>> {
    let now = ctx.clock.now();
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut factors: HashMap<Uuid, Vec<FactorInfo>> = HashMap::new();
    for a in authenticator::Entity::find()
        .filter(authenticator::Column::UserId.is_in(ids.clone()))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .order_by_asc(authenticator::Column::ConfirmedAt)
        .all(&ctx.db)
        .await?
    {
        factors.entry(a.user_id).or_default().push(FactorInfo {
            kind: FactorKind::Authenticator,
            id: Some(a.id),
            name: a.name,
            added_at: a.confirmed_at.unwrap_or(a.created_at),
            last_used_at: a.last_used_at,
        });
    }
    // The other kinds the admin may remove for someone who lost a phone.
    for ph in phone::Entity::find()
        .filter(phone::Column::UserId.is_in(ids.clone()))
        .filter(phone::Column::ConfirmedAt.is_not_null())
        .all(&ctx.db)
        .await?
    {
        factors.entry(ph.user_id).or_default().push(FactorInfo {
            kind: FactorKind::Phone,
            id: Some(ph.id),
            name: ph.name,
            added_at: ph.confirmed_at.unwrap_or(ph.created_at),
            last_used_at: ph.last_used_at,
        });
    }
    for d in
        approval_device::Entity::find().filter(approval_device::Column::UserId.is_in(ids.clone())).all(&ctx.db).await?
    {
        factors.entry(d.user_id).or_default().push(FactorInfo {
            kind: FactorKind::ApprovalDevice,
            id: Some(d.id),
            name: d.name,
            added_at: d.created_at,
            last_used_at: d.last_used_at,
        });
    }
    for k in passkey::Entity::find().filter(passkey::Column::UserId.is_in(ids.clone())).all(&ctx.db).await? {
        factors.entry(k.user_id).or_default().push(FactorInfo {
            kind: FactorKind::Passkey,
            id: Some(k.id),
            name: k.name,
            added_at: k.created_at,
            last_used_at: k.last_used_at,
        });
    }
    // Per user: codes left, when the set was made, when one was last used.
    type Codes = (u64, DateTime<Utc>, Option<DateTime<Utc>>);
    let mut codes: HashMap<Uuid, Codes> = HashMap::new();
    for c in recovery_code::Entity::find().filter(recovery_code::Column::UserId.is_in(ids.clone())).all(&ctx.db).await?
    {
        let e = codes.entry(c.user_id).or_insert((0, c.created_at, None));
        if c.used_at.is_none() {
            e.0 += 1;
        }
        e.2 = e.2.max(c.used_at);
    }
    for (user_id, (left, made, used)) in codes {
        if left > 0 {
            factors.entry(user_id).or_default().push(FactorInfo {
                kind: FactorKind::RecoveryCodes,
                id: None,
                name: format!("{left} recovery code{} left", if left == 1 { "" } else { "s" }),
                added_at: made,
                last_used_at: used,
            });
        }
    }
    let mappings = account_mapping::Entity::find()
        .filter(account_mapping::Column::TenantId.eq(tenant_id))
        .filter(account_mapping::Column::EndUserId.is_in(ids.clone()))
        .order_by_asc(account_mapping::Column::Account)
        .all(&ctx.db)
        .await?;
    let server_ids: Vec<Uuid> = mappings.iter().filter_map(|m| m.server_id).collect();
    let servers: HashMap<Uuid, String> = if server_ids.is_empty() {
        HashMap::new()
    } else {
        server::Entity::find()
            .select_only()
            .column(server::Column::Id)
            .column(server::Column::Name)
            .filter(server::Column::Id.is_in(server_ids))
            .into_tuple::<(Uuid, String)>()
            .all(&ctx.db)
            .await?
            .into_iter()
            .collect()
    };
    let mut accounts: HashMap<Uuid, Vec<String>> = HashMap::new();
    for m in mappings {
        let text = match m.server_id {
            None => format!("{} (all servers)", m.account),
            Some(id) => {
                format!("{} on {}", m.account, servers.get(&id).map(String::as_str).unwrap_or("a deleted server"))
            }
        };
        accounts.entry(m.end_user_id).or_default().push(text);
    }
    let mut latest: HashMap<Uuid, invitation::Model> = HashMap::new();
    for i in invitation::Entity::find()
        .filter(invitation::Column::UserId.is_in(ids))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(&ctx.db)
        .await?
    {
        latest.insert(i.user_id, i);
    }
    Ok(users
        .into_iter()
        .map(|u| Person {
            id: u.id,
            state: state_of(&u),
            factors: factors.remove(&u.id).unwrap_or_default(),
            server_accounts: accounts.remove(&u.id).unwrap_or_default(),
            invitation: latest.get(&u.id).map(|i| InvitationInfo::of(i, now)),
            email: u.email,
            display_name: u.display_name,
            created_at: u.created_at,
            locked_at: u.locked_at,
            last_sign_in_at: u.last_sign_in_at,
        })
        .collect())
}

/// Locks end user `user_id` of the caller's tenant: they cannot sign in (their sessions end at
/// their next request) and their logins to servers are denied, until [`unlock`]. Audited.
/// `why` says what led to it ("This wasn't me", say); it goes in the audit detail.
/// Locking a locked person changes nothing.
pub async fn lock(ctx: &Ctx, caller: &Caller, actor: &Actor, user_id: Uuid, why: &str) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    set_lock(ctx, tenant_id, actor, user_id, true, why).await
}

/// Lifts a lock; the person is active again (or invited, if they never finished). Audited.
pub async fn unlock(ctx: &Ctx, caller: &Caller, actor: &Actor, user_id: Uuid) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    set_lock(ctx, tenant_id, actor, user_id, false, "").await
}

/// Locks a person on the system's own behalf, inside the caller's transaction (the portal's
/// "This wasn't me", when the tenant chose that), without an admin caller. Audited under `actor`.
pub(crate) async fn lock_in_txn(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    actor: &Actor,
    user_id: Uuid,
    why: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    set_lock_in(txn, tenant_id, actor, user_id, true, why, now).await
}

async fn set_lock(
    ctx: &Ctx,
    tenant_id: Uuid,
    actor: &Actor,
    user_id: Uuid,
    locked: bool,
    why: &str,
) -> DomainResult<()> {
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    set_lock_in(&txn, tenant_id, actor, user_id, locked, why, now).await?;
    txn.commit().await?;
    Ok(())
}

async fn set_lock_in(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    actor: &Actor,
    user_id: Uuid,
    locked: bool,
    why: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    crate::db::lock_rows::<user::Entity>(txn, &[user_id]).await?;
    let person = end_user_in(txn, tenant_id, user_id).await?;
    if person.locked_at.is_some() == locked {
        return Ok(());
    }
    user::Entity::update_many()
        .col_expr(user::Column::LockedAt, Expr::value(locked.then_some(now)))
        .filter(user::Column::Id.eq(person.id))
        .exec(txn)
        .await?;
    if locked {
        // A push sent before the lock must not be approvable after it.
        push_request::Entity::update_many()
            .col_expr(push_request::Column::Status, Expr::value(PushStatus::Expired.as_str()))
            .col_expr(push_request::Column::DecidedAt, Expr::value(now))
            .filter(push_request::Column::UserId.eq(person.id))
            .filter(push_request::Column::Status.eq(PushStatus::Pending.as_str()))
            .exec(txn)
            .await?;
        end_sessions(txn, person.id).await?;
    }
    let (action, detail) = if locked {
        let why = why.trim();
        let detail = if why.is_empty() {
            "locked: cannot sign in, logins to servers denied".to_owned()
        } else {
            format!("locked ({why}): cannot sign in, logins to servers denied")
        };
        (AuditAction::UserLock, detail)
    } else {
        (AuditAction::UserUnlock, "unlocked".to_owned())
    };
    audit::record(txn, now, actor, Entry { tenant_id: Some(tenant_id), action, target: person.email.clone(), detail })
        .await?;
    Ok(())
}

/// Ends every portal session of `user_id` (an admin removed a factor, invited them again or
/// locked them: whoever holds an old session, e.g. a thief with the phone, is signed out).
/// Returns how many ended.
pub(crate) async fn end_sessions<C: sea_orm::ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<u64> {
    // The user's id is in the data of each of their sessions; the LIKE narrows, the parse decides.
    let ids: Vec<String> = session::Entity::find()
        .filter(session::Column::Data.contains(user_id.to_string()))
        .all(conn)
        .await?
        .into_iter()
        .filter(|s| crate::factors::settings::belongs_to(&s.data, user_id))
        .map(|s| s.id)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(session::Entity::delete_many().filter(session::Column::Id.is_in(ids)).exec(conn).await?.rows_affected)
}

/// [`end_sessions`] for one of the caller's tenant's end users, after an admin's action done
/// outside this module (inviting again).
pub async fn end_sessions_of(ctx: &Ctx, caller: &Caller, user_id: Uuid) -> DomainResult<u64> {
    let tenant_id = caller.admin_tenant()?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    end_user_in(&txn, tenant_id, user_id).await?;
    let ended = end_sessions(&txn, user_id).await?;
    txn.commit().await?;
    Ok(ended)
}

/// What a tenant admin removes for someone who lost a phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorRef {
    Authenticator(Uuid),
    RecoveryCodes,
    Phone(Uuid),
    ApprovalDevice(Uuid),
    Passkey(Uuid),
}

/// Removes one of end user `user_id`'s factors (an authenticator app, phone, approval device or
/// passkey that was lost, or their recovery codes), for their tenant admin; audited and mailed to the person. Unlike the
/// person's own removal, the last factor may go: the person then enrols again from a new
/// invitation, and until then their logins are refused.
pub async fn remove_factor(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    user_id: Uuid,
    factor: FactorRef,
) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let person = end_user_in(&txn, tenant_id, user_id).await?;
    let what = match factor {
        FactorRef::Authenticator(id) => {
            let found = authenticator::Entity::find_by_id(id)
                .filter(authenticator::Column::UserId.eq(person.id))
                .filter(authenticator::Column::ConfirmedAt.is_not_null())
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound("authenticator"))?;
            authenticator::Entity::delete_by_id(found.id).exec(&txn).await?;
            format!("The authenticator app \"{}\" was removed", found.name)
        }
        FactorRef::RecoveryCodes => {
            let gone = recovery_code::Entity::delete_many()
                .filter(recovery_code::Column::UserId.eq(person.id))
                .exec(&txn)
                .await?;
            if gone.rows_affected == 0 {
                return Err(DomainError::NotFound("recovery codes"));
            }
            "Your recovery codes were removed".to_owned()
        }
        FactorRef::Phone(id) => {
            let found = phone::Entity::find_by_id(id)
                .filter(phone::Column::UserId.eq(person.id))
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound("phone"))?;
            phone::Entity::delete_by_id(found.id).exec(&txn).await?;
            format!("The phone \"{}\" was removed", found.name)
        }
        FactorRef::ApprovalDevice(id) => {
            let found = approval_device::Entity::find_by_id(id)
                .filter(approval_device::Column::UserId.eq(person.id))
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound("approval device"))?;
            approval_device::Entity::delete_by_id(found.id).exec(&txn).await?;
            format!("The approval device \"{}\" was removed", found.name)
        }
        FactorRef::Passkey(id) => {
            let found = passkey::Entity::find_by_id(id)
                .filter(passkey::Column::UserId.eq(person.id))
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound("passkey"))?;
            passkey::Entity::delete_by_id(found.id).exec(&txn).await?;
            format!("The passkey \"{}\" was removed", found.name)
        }
    };
    let change = Changed {
        tenant_id,
        person: &person.email,
        action: AuditAction::FactorRemovedByAdmin,
        detail: what.clone(),
        told: Some(what),
    };
    crate::factors::changed(ctx, txn, actor, change, ChangedBy::Admin { user_id: person.id }, now).await
}
