//! The audit trail: who created, changed, confirmed or deleted what, when, and from where.

use crate::{
    caller::{Caller, Role},
    ctx::Ctx,
    entities::audit_event,
    error::DomainResult,
};
use chrono::{DateTime, Utc};
pub use proto::audit::AuditAction;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// Who is acting, as the audit trail records it.
#[derive(Clone, Debug)]
pub struct Actor {
    pub label: String,
    pub source_ip: String,
}

impl Actor {
    pub fn new(label: impl Into<String>, source_ip: impl Into<String>) -> Self {
        Self { label: label.into(), source_ip: source_ip.into() }
    }
}

pub struct Entry {
    pub tenant_id: Option<Uuid>,
    pub action: AuditAction,
    pub target: String,
    pub detail: String,
}

pub async fn record<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>, actor: &Actor, e: Entry) -> DomainResult<()> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(e.tenant_id),
        actor: Set(actor.label.clone()),
        action: Set(e.action),
        target: Set(e.target),
        detail: Set(e.detail),
        source_ip: Set(actor.source_ip.clone()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// One event of the trail, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    pub detail: String,
    pub source_ip: String,
    pub created_at: DateTime<Utc>,
}

impl From<audit_event::Model> for Event {
    fn from(m: audit_event::Model) -> Self {
        Event {
            id: m.id,
            tenant_id: m.tenant_id,
            actor: m.actor,
            action: m.action,
            target: m.target,
            detail: m.detail,
            source_ip: m.source_ip,
            created_at: m.created_at,
        }
    }
}

/// The newest events: a tenant admin sees their tenant's, an operator everyone's.
pub async fn list(ctx: &Ctx, caller: &Caller, limit: u64) -> DomainResult<Vec<Event>> {
    let mut q = audit_event::Entity::find().order_by_desc(audit_event::Column::CreatedAt).limit(limit.min(500));
    match caller.role {
        Role::Operator => {}
        Role::TenantAdmin => q = q.filter(audit_event::Column::TenantId.eq(caller.admin_tenant()?)),
        Role::EndUser => return Err(crate::DomainError::Forbidden),
    }
    Ok(q.all(&ctx.db).await?.into_iter().map(Event::from).collect())
}
