//! For the tests of the login prompt's methods (issue 17): a tenant's credits set to a balance,
//! and a push request decided as the approval side would decide it (its signed API is tested
//! with that side; these tests only need the status to change).

use crate::TestApp;
use domain::entities::{credit_entry::CreditKind, push_request};
use proto::push::PushStatus;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

impl TestApp {
    /// The tenant's credit balance (the ledger's sum).
    pub async fn credits(&self, tenant_id: Uuid) -> i64 {
        domain::credits::balance(&self.ctx.db, tenant_id).await.unwrap()
    }

    /// Gives the tenant the Free plan's credits (once), then adjusts its balance to `balance`
    /// with one ledger row.
    pub async fn set_credits(&self, tenant_id: Uuid, balance: i64) {
        let now = domain::Clock::now(&self.clock);
        let txn = domain::db::write_txn(&self.ctx.db).await.unwrap();
        domain::credits::open(&txn, tenant_id, now).await.unwrap();
        let delta = balance - domain::credits::balance(&txn, tenant_id).await.unwrap();
        if delta != 0 {
            domain::credits::add(&txn, tenant_id, i32::try_from(delta).unwrap(), CreditKind::Adjustment, now)
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
    }

    /// The newest push request of login `login_id`.
    pub async fn push_request_of(&self, login_id: Uuid) -> push_request::Model {
        push_request::Entity::find()
            .filter(push_request::Column::LoginId.eq(login_id))
            .order_by_desc(push_request::Column::CreatedAt)
            .one(&self.ctx.db)
            .await
            .unwrap()
            .expect("the login has a push request")
    }

    /// Decides login `login_id`'s newest push request as the portal would (approved, denied or
    /// fraud), without its signature.
    pub async fn decide_push(&self, login_id: Uuid, status: PushStatus) {
        let request = self.push_request_of(login_id).await;
        let now = domain::Clock::now(&self.clock);
        push_request::Entity::update_many()
            .col_expr(push_request::Column::Status, Expr::value(status.as_str()))
            .col_expr(push_request::Column::DecidedAt, Expr::value(now))
            .filter(push_request::Column::Id.eq(request.id))
            .filter(push_request::Column::Status.eq(PushStatus::Pending.as_str()))
            .exec(&self.ctx.db)
            .await
            .unwrap();
    }
}
