//! Each tenant's MFA credits, as the reference's Free plan has them: 500 to start, a call costs
//! 10 and an SMS passcode 5; push, app codes and passkeys are free. The balance is always the
//! sum of the tenant's ledger rows, and a charge is one more row, written in the transaction of
//! the login that spends it, after a lock on the tenant's ledger: two charges never both pass
//! the balance check.

use crate::{
    entities::credit_entry::{self, CreditKind},
    error::DomainResult,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

/// What the Free plan starts with.
pub const FREE_PLAN: i32 = 500;

/// What a login may spend credits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paid {
    Call,
    SmsPasscode,
}

impl Paid {
    pub fn cost(self) -> i32 {
        match self {
            Paid::Call => 10,
            Paid::SmsPasscode => 5,
        }
    }

    fn kind(self) -> CreditKind {
        match self {
            Paid::Call => CreditKind::Call,
            Paid::SmsPasscode => CreditKind::SmsPasscode,
        }
    }
}

/// The tenant's balance: the sum of its ledger.
pub async fn balance(conn: &impl ConnectionTrait, tenant_id: Uuid) -> DomainResult<i64> {
    let sum: Option<Option<i64>> = credit_entry::Entity::find()
        .select_only()
        .column_as(credit_entry::Column::Delta.sum(), "sum")
        .filter(credit_entry::Column::TenantId.eq(tenant_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.flatten().unwrap_or(0))
}

/// Holds the tenant's ledger until the transaction ends (PostgreSQL; SQLite's write
/// transactions already run one at a time).
async fn lock(txn: &impl ConnectionTrait, tenant_id: Uuid) -> DomainResult<()> {
    Ok(crate::db::lock_key(txn, &format!("credits:{tenant_id}")).await?)
}

async fn insert(
    conn: &impl ConnectionTrait,
    tenant_id: Uuid,
    delta: i32,
    kind: CreditKind,
    login_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    credit_entry::Entity::insert(credit_entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        delta: Set(delta),
        kind: Set(kind),
        login_id: Set(login_id),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Gives a new tenant the Free plan's credits, once: a tenant that has a ledger already is
/// left alone (also one made before this rule, whose grant the migration wrote). Whatever
/// creates a tenant calls it, in the same transaction.
pub async fn open(txn: &impl ConnectionTrait, tenant_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    lock(txn, tenant_id).await?;
    let rows = credit_entry::Entity::find().filter(credit_entry::Column::TenantId.eq(tenant_id)).count(txn).await?;
    if rows == 0 {
        insert(txn, tenant_id, FREE_PLAN, CreditKind::FreePlan, None, now).await?;
    }
    Ok(())
}

/// Adds credits (a top-up, or an adjustment either way): a ledger row made by a seed, a test or,
/// later, an operator's plan.
pub async fn add(
    txn: &impl ConnectionTrait,
    tenant_id: Uuid,
    delta: i32,
    kind: CreditKind,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    lock(txn, tenant_id).await?;
    insert(txn, tenant_id, delta, kind, None, now).await
}

/// Whether the tenant can pay for `what` now (the menu offers only what it can).
pub async fn can_pay(conn: &impl ConnectionTrait, tenant_id: Uuid, what: Paid) -> DomainResult<bool> {
    Ok(balance(conn, tenant_id).await? >= i64::from(what.cost()))
}

/// Charges `what` to the tenant for login `login_id`, in the caller's transaction: the balance
/// left, or `None` (and nothing written) when it is too low.
pub async fn charge(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    login_id: Uuid,
    what: Paid,
    now: DateTime<Utc>,
) -> DomainResult<Option<i64>> {
    lock(txn, tenant_id).await?;
    let left = balance(txn, tenant_id).await? - i64::from(what.cost());
    if left < 0 {
        return Ok(None);
    }
    insert(txn, tenant_id, -what.cost(), what.kind(), Some(login_id), now).await?;
    Ok(Some(left))
}

/// The charges made for `login_ids` (at most one login's few sends are ever asked about).
pub async fn charges_for(conn: &impl ConnectionTrait, login_ids: &[Uuid]) -> DomainResult<u64> {
    Ok(credit_entry::Entity::find()
        .filter(credit_entry::Column::LoginId.is_in(login_ids.iter().copied()))
        .count(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_cost_ten_and_sms_passcodes_five() {
        assert_eq!(Paid::Call.cost(), 10);
        assert_eq!(Paid::SmsPasscode.cost(), 5);
        assert_eq!(Paid::Call.kind().as_str(), "call");
        assert_eq!(Paid::SmsPasscode.kind().as_str(), "sms_passcode");
    }
}
