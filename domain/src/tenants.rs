//! Tenant accounts, as the provider's operators see them.

use crate::{
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{
        server::{self, agent_online_condition},
        tenant, user,
    },
    error::DomainResult,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct TenantSummary {
    pub tenant: tenant::Model,
    pub admins: u64,
    pub end_users: u64,
    pub servers: u64,
    pub servers_online: u64,
}

pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<TenantSummary>> {
    caller.require_role(Role::Operator)?;
    let tenants = tenant::Entity::find().order_by_asc(tenant::Column::Name).all(&ctx.db).await?;

    let users: Vec<(Option<Uuid>, String, i64)> = user::Entity::find()
        .select_only()
        .column(user::Column::TenantId)
        .column(user::Column::Role)
        .column_as(user::Column::Id.count(), "n")
        .group_by(user::Column::TenantId)
        .group_by(user::Column::Role)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    // Online counts use the same rule as the status shown (heard from in the last 3 minutes).
    let count_servers = |online: Option<bool>| {
        let mut q = server::Entity::find()
            .select_only()
            .column(server::Column::TenantId)
            .column_as(server::Column::Id.count(), "n")
            .group_by(server::Column::TenantId);
        if let Some(online) = online {
            q = q.filter(agent_online_condition(online, ctx.clock.now()));
        }
        q.into_tuple::<(Uuid, i64)>().all(&ctx.db)
    };
    let all: HashMap<Uuid, u64> = count_servers(None).await?.into_iter().map(|(t, n)| (t, n as u64)).collect();
    let online: HashMap<Uuid, u64> = count_servers(Some(true)).await?.into_iter().map(|(t, n)| (t, n as u64)).collect();

    let mut by_role: HashMap<(Uuid, String), u64> = HashMap::new();
    for (t, role, n) in users {
        if let Some(t) = t {
            by_role.insert((t, role), n as u64);
        }
    }
    let get = |m: &HashMap<(Uuid, String), u64>, t: Uuid, k: &str| m.get(&(t, k.to_owned())).copied().unwrap_or(0);
    Ok(tenants
        .into_iter()
        .map(|t| TenantSummary {
            admins: get(&by_role, t.id, Role::TenantAdmin.as_str()),
            end_users: get(&by_role, t.id, Role::EndUser.as_str()),
            servers: all.get(&t.id).copied().unwrap_or(0),
            servers_online: online.get(&t.id).copied().unwrap_or(0),
            tenant: t,
        })
        .collect())
}

/// Used by start-up to decide whether to seed demo data.
pub async fn any(ctx: &Ctx) -> DomainResult<bool> {
    Ok(tenant::Entity::find().filter(tenant::Column::Id.is_not_null()).one(&ctx.db).await?.is_some())
}
