//! Notification topics (Simple Message Notification).

use crate::{caller::Caller, ctx::Ctx, entities::topic, error::DomainResult};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// The URN of a topic, in SMN's shape: `urn:smn:{region}:{project_id}:{name}`.
pub fn urn(region: &str, project_id: &str, name: &str) -> String {
    format!("urn:smn:{region}:{project_id}:{name}")
}

pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<topic::Model>> {
    let tenant_id = caller.admin_tenant()?;
    Ok(topic::Entity::find()
        .filter(topic::Column::TenantId.eq(tenant_id))
        .order_by_asc(topic::Column::Name)
        .all(&ctx.db)
        .await?)
}
