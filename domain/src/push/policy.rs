//! The tenant's push policy: whether "This wasn't me" also locks the person who pressed it.
//! Off by default (a report then only denies, tells the admins and pauses notifications);
//! tenant admins choose, audited.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::tenant_fraud_policy,
    error::{DomainError, DomainResult},
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};

/// Whether the caller's tenant locks a person who reports a push as not theirs.
pub async fn lock_on_fraud_report(ctx: &Ctx, caller: &Caller) -> DomainResult<bool> {
    let tenant_id = caller.admin_tenant()?;
    Ok(tenant_fraud_policy::Entity::find_by_id(tenant_id)
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("tenant"))?
        .lock_on_fraud_report)
}

/// Sets it for the caller's tenant; audited.
pub async fn set_lock_on_fraud_report(ctx: &Ctx, caller: &Caller, actor: &Actor, on: bool) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let done = tenant_fraud_policy::Entity::update_many()
        .col_expr(tenant_fraud_policy::Column::LockOnFraudReport, Expr::value(on))
        .filter(tenant_fraud_policy::Column::Id.eq(tenant_id))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(DomainError::NotFound("tenant"));
    }
    let detail = if on {
        "\"This wasn't me\" on a push also locks the person who reports it"
    } else {
        "\"This wasn't me\" on a push denies it and tells the admins; the person is not locked"
    };
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::PushPolicy,
            target: "push policy".into(),
            detail: detail.into(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
