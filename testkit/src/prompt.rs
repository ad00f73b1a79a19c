//! For the tests of the login prompt's methods (issue 17): a tenant's credits set to a balance,
//! server accounts, phones and approval devices (decisions are signed: see `approve.rs`).

use crate::{Login, Protected, TestApp};
use domain::entities::{credit_entry::CreditKind, outbox, phone, push_request};
use domain::factors::mapping::{self, NewMapping};
use proto::push::PushStatus;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
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

    /// The newest push request of login `login_id` (its pending one, if it has one).
    pub async fn push_request_of(&self, login_id: Uuid) -> push_request::Model {
        let all = push_request::Entity::find()
            .filter(push_request::Column::LoginId.eq(login_id))
            .order_by_asc(push_request::Column::CreatedAt)
            .all(&self.ctx.db)
            .await
            .unwrap();
        all.iter().rev().find(|r| r.status == PushStatus::Pending).or(all.last()).cloned().expect("the login has a push request")
    }

    /// An end user of `p`'s tenant who owns server account `account` on every server.
    pub async fn account_owner(&self, p: &Protected, name: &str, account: &str) -> Login {
        let who = p.tenant.end_user(self, name).await;
        let new = NewMapping {
            account: domain::validate::AccountName::parse(account).unwrap(),
            end_user_id: who.id,
            server_id: None,
        };
        let actor = domain::audit::Actor::new("test", "127.0.0.1");
        mapping::add(&self.ctx, &p.caller, &actor, &new).await.unwrap();
        who
    }

    /// Gives `who` a confirmed phone, as if they had confirmed it on the portal.
    pub async fn give_phone(&self, p: &Protected, who: &Login, number: &str) {
        let now = domain::Clock::now(&self.clock);
        phone::Entity::insert(phone::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(p.tenant.id),
            user_id: Set(who.id),
            name: Set("Phone".into()),
            number: Set(number.into()),
            confirmed_at: Set(Some(now)),
            code_hash: Set(None),
            code_expires_at: Set(None),
            code_attempts: Set(0),
            code_sent_at: Set(None),
            codes_sent: Set(0),
            last_used_at: Set(None),
            created_at: Set(now),
        })
        .exec_without_returning(&self.ctx.db)
        .await
        .unwrap();
    }

    /// Gives `who` an approval device and the portal session that uses it
    /// ([`TestApp::approver`]).
    pub async fn give_approval_device(&self, _p: &Protected, who: &Login) -> crate::approve::Approver {
        self.approver(who).await
    }

    /// The text of the newest voice call to `number`, as the development gateway keeps it.
    pub async fn call_text(&self, number: &str) -> String {
        let m = outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq(number))
            .filter(outbox::Column::Channel.eq(proto::Channel::Voice))
            .order_by_desc(outbox::Column::CreatedAt)
            .one(&self.ctx.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no call to {number} in the outbox"));
        domain::outbox::render(&m).body_text
    }

    /// The code the newest call to `number` reads out, digit by digit.
    pub async fn spoken_code(&self, number: &str) -> String {
        let text = self.call_text(number).await;
        let said = text.split(" is: ").nth(1).unwrap_or_else(|| panic!("no code in the call: {text}"));
        let code: String = said.split('.').next().unwrap().chars().filter(char::is_ascii_digit).collect();
        assert_eq!(code.len(), 6, "{text}");
        code
    }
}
