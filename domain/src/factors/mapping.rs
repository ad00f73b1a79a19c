//! Server accounts: a tenant admin says which end user logs in as a server account (a Linux
//! user name), on every server of the tenant or, overriding that, on one server. A login in
//! verification-code mode asks that end user for a code.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{account_mapping, server, user},
    error::{DomainError, DomainResult},
    validate::AccountName,
};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// One mapping as the Server accounts page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub id: Uuid,
    pub account: String,
    /// `None`: every server of the tenant.
    pub server_id: Option<Uuid>,
    pub server_name: Option<String>,
    pub end_user_id: Uuid,
    pub end_user_email: String,
    pub end_user_name: String,
    pub created_at: DateTime<Utc>,
}

/// A mapping the admin asks for.
#[derive(Clone, Debug)]
pub struct NewMapping {
    pub account: AccountName,
    pub end_user_id: Uuid,
    /// `None`: every server of the tenant.
    pub server_id: Option<Uuid>,
}

/// The end user who logs in as `account` on server `server_id` of `tenant_id`: the server's own
/// mapping if it has one, else the tenant-wide one.
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    server_id: Uuid,
    account: &str,
) -> DomainResult<Option<Uuid>> {
    let found = account_mapping::Entity::find()
        .filter(account_mapping::Column::TenantId.eq(tenant_id))
        .filter(account_mapping::Column::Account.eq(account))
        .filter(
            Condition::any()
                .add(account_mapping::Column::ServerId.eq(server_id))
                .add(account_mapping::Column::ServerId.is_null()),
        )
        .all(conn)
        .await?;
    let on_server = found.iter().find(|m| m.server_id == Some(server_id));
    Ok(on_server.or_else(|| found.iter().find(|m| m.server_id.is_none())).map(|m| m.end_user_id))
}

/// The tenant's mappings: by account, the tenant-wide one first, then the servers' overrides.
pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Mapping>> {
    let tenant_id = caller.admin_tenant()?;
    let rows = account_mapping::Entity::find()
        .filter(account_mapping::Column::TenantId.eq(tenant_id))
        .order_by_asc(account_mapping::Column::Account)
        .order_by_asc(account_mapping::Column::CreatedAt)
        .all(&ctx.db)
        .await?;
    let users: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.end_user_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let server_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.server_id).collect();
    let servers: HashMap<Uuid, String> = if server_ids.is_empty() {
        HashMap::new()
    } else {
        server::Entity::find()
            .filter(server::Column::Id.is_in(server_ids))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect()
    };
    let mut out: Vec<Mapping> = rows
        .into_iter()
        .map(|r| {
            let u = users.get(&r.end_user_id);
            Mapping {
                id: r.id,
                account: r.account,
                server_name: r.server_id.and_then(|id| servers.get(&id).cloned()),
                server_id: r.server_id,
                end_user_id: r.end_user_id,
                end_user_email: u.map(|u| u.email.clone()).unwrap_or_default(),
                end_user_name: u.map(|u| u.display_name.clone()).unwrap_or_default(),
                created_at: r.created_at,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.account, a.server_id.is_some(), &a.server_name).cmp(&(&b.account, b.server_id.is_some(), &b.server_name))
    });
    Ok(out)
}

fn scope(server_name: Option<&str>) -> String {
    match server_name {
        Some(name) => format!("on server {name}"),
        None => "on every server".to_owned(),
    }
}

/// Maps a server account to an end user of the caller's tenant; audited. Another tenant's user
/// or server is "not found"; an account mapped already in the same scope is a conflict.
pub async fn add(ctx: &Ctx, caller: &Caller, actor: &Actor, new: &NewMapping) -> DomainResult<Mapping> {
    let tenant_id = caller.admin_tenant()?;
    let account = new.account.as_str();
    let end_user = super::end_user_in(&ctx.db, tenant_id, new.end_user_id).await?;
    let server = match new.server_id {
        Some(id) => Some(crate::servers::get(ctx, caller, id).await?),
        None => None,
    };
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let taken = account_mapping::Entity::find()
        .filter(account_mapping::Column::TenantId.eq(tenant_id))
        .filter(account_mapping::Column::Account.eq(account))
        .filter(match new.server_id {
            Some(id) => account_mapping::Column::ServerId.eq(id),
            None => account_mapping::Column::ServerId.is_null(),
        })
        .one(&txn)
        .await?;
    let where_ = scope(server.as_ref().map(|s| s.name.as_str()));
    let conflict = || {
        DomainError::Conflict(format!(
            "The account {account} is already mapped {where_}. Remove that mapping first to map it to someone else."
        ))
    };
    if taken.is_some() {
        return Err(conflict());
    }
    let row = account_mapping::Model {
        id: Uuid::new_v4(),
        tenant_id,
        server_id: server.as_ref().map(|s| s.id),
        account: account.to_owned(),
        end_user_id: end_user.id,
        created_at: now,
    };
    // Two admins adding the same mapping at once: the unique index decides (PostgreSQL).
    match insert(&txn, &row).await {
        Err(DomainError::Db(e)) if crate::db::is_unique_violation(&e) => return Err(conflict()),
        other => other?,
    }
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::LoginAccountMapped,
            target: account.to_owned(),
            detail: format!("{account} → {} {where_}", end_user.email),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Mapping {
        id: row.id,
        account: row.account,
        server_id: row.server_id,
        server_name: server.map(|s| s.name),
        end_user_id: end_user.id,
        end_user_email: end_user.email,
        end_user_name: end_user.display_name,
        created_at: now,
    })
}

pub(crate) async fn insert<C: ConnectionTrait>(conn: &C, row: &account_mapping::Model) -> DomainResult<()> {
    account_mapping::Entity::insert(account_mapping::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        server_id: Set(row.server_id),
        account: Set(row.account.clone()),
        end_user_id: Set(row.end_user_id),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Removes a mapping of the caller's tenant; audited. Logins already running keep their user.
pub async fn remove(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let row = account_mapping::Entity::find_by_id(id)
        .filter(account_mapping::Column::TenantId.eq(tenant_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("account mapping"))?;
    account_mapping::Entity::delete_by_id(row.id).exec(&txn).await?;
    let email = user::Entity::find_by_id(row.end_user_id).one(&txn).await?.map(|u| u.email).unwrap_or_default();
    let server_name = match row.server_id {
        Some(sid) => server::Entity::find_by_id(sid).one(&txn).await?.map(|s| s.name),
        None => None,
    };
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::LoginAccountUnmapped,
            target: row.account.clone(),
            detail: format!("{} → {email} {} removed", row.account, scope(server_name.as_deref())),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What the add form offers: the tenant's end users (email, name) and its servers (name).
pub struct Choices {
    pub end_users: Vec<(Uuid, String, String)>,
    pub servers: Vec<(Uuid, String)>,
    /// More servers than [`MAX_SERVER_CHOICES`]; the rest are not offered.
    pub servers_truncated: bool,
}

/// The most servers the add form lists.
pub const MAX_SERVER_CHOICES: u64 = 1000;

pub async fn choices(ctx: &Ctx, caller: &Caller) -> DomainResult<Choices> {
    use sea_orm::QuerySelect;
    let tenant_id = caller.admin_tenant()?;
    let end_users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Role.eq(crate::caller::Role::EndUser.as_str()))
        .order_by_asc(user::Column::Email)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email, u.display_name))
        .collect();
    let mut servers: Vec<(Uuid, String)> = server::Entity::find()
        .select_only()
        .column(server::Column::Id)
        .column(server::Column::Name)
        .filter(server::Column::TenantId.eq(tenant_id))
        .order_by_asc(server::Column::Name)
        .limit(MAX_SERVER_CHOICES + 1)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let servers_truncated = servers.len() as u64 > MAX_SERVER_CHOICES;
    servers.truncate(MAX_SERVER_CHOICES as usize);
    Ok(Choices { end_users, servers, servers_truncated })
}
