//! Credits (issue 17, item 9): each tenant's ledger, whose sum is the balance; charges are
//! atomic, so parallel paid challenges never overdraw it, and each names its login.

use crate::common::*;
use domain::credits::{self, Paid};
use domain::entities::credit_entry;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// 100 paid challenges at once against a balance of 50: exactly 10 SMS passcodes (5 each) are
/// paid, none past zero, and the ledger sums to what is left.
async fn parallel_charges_never_overdraw(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let t = app.create_tenant("Credits Race").await;
    let other = app.create_tenant("Credits Other").await;
    app.set_credits(t.id, 50).await;
    app.set_credits(other.id, 500).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let db = app.ctx.db.clone();
            let now = chrono::Utc::now();
            tokio::spawn(async move {
                let login = Uuid::new_v4();
                let txn = domain::db::write_txn(&db).await.unwrap();
                let left = credits::charge(&txn, t.id, login, Paid::SmsPasscode, now).await.unwrap();
                txn.commit().await.unwrap();
                (login, left)
            })
        })
        .collect();
    let mut paid = vec![];
    for task in tasks {
        let (login, left) = task.await.unwrap();
        if let Some(left) = left {
            assert!(left >= 0, "never below zero: {left}");
            paid.push(login);
        }
    }
    assert_eq!(paid.len(), 10, "50 credits pay ten SMS passcodes, no more");
    assert_eq!(app.credits(t.id).await, 0);
    let rows =
        credit_entry::Entity::find().filter(credit_entry::Column::TenantId.eq(t.id)).all(&app.ctx.db).await.unwrap();
    assert_eq!(rows.iter().map(|r| i64::from(r.delta)).sum::<i64>(), 0, "the balance is the ledger's sum");
    let charges: Vec<_> = rows.iter().filter(|r| r.kind == credit_entry::CreditKind::SmsPasscode).collect();
    assert_eq!(charges.len(), 10);
    assert!(
        charges.iter().all(|r| r.delta == -5 && r.login_id.is_some_and(|l| paid.contains(&l))),
        "each names its login"
    );
    assert_eq!(app.credits(other.id).await, 500, "another tenant's credits are untouched");
    // A call (10) is refused at 0 and writes nothing.
    let txn = domain::db::write_txn(&app.ctx.db).await.unwrap();
    assert_eq!(credits::charge(&txn, t.id, Uuid::new_v4(), Paid::Call, chrono::Utc::now()).await.unwrap(), None);
    txn.commit().await.unwrap();
    assert_eq!(app.credits(t.id).await, 0);
}
on_both_databases!(parallel_charges_never_overdraw, super::parallel_charges_never_overdraw);

/// A tenant gets the Free plan's 500 once, however often it is opened.
async fn the_free_plan_starts_with_500_once(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let t = app.create_tenant("Credits Free").await;
    assert_eq!(app.credits(t.id).await, 0, "a tenant made without the rule has no ledger");
    for _ in 0..2 {
        let txn = domain::db::write_txn(&app.ctx.db).await.unwrap();
        credits::open(&txn, t.id, chrono::Utc::now()).await.unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(app.credits(t.id).await, i64::from(credits::FREE_PLAN));
}
on_both_databases!(the_free_plan_starts_with_500_once, super::the_free_plan_starts_with_500_once);

/// The demo's tenants are created with the Free plan's credits.
async fn demo_tenants_start_with_the_free_plan(backend: Backend) {
    let app = spawn_app(backend).await;
    let tenants = domain::entities::tenant::Entity::find().all(&app.ctx.db).await.unwrap();
    assert!(!tenants.is_empty());
    for t in tenants {
        assert_eq!(app.credits(t.id).await, 500, "{}", t.name);
    }
}
on_both_databases!(demo_tenants_start_with_the_free_plan, super::demo_tenants_start_with_the_free_plan);
