//! The console sign-in's second step in tests: fixtures get a console authenticator whose seed
//! the harness keeps, and `TestApp::sign_in` types its code when the console asks for one.

use crate::TestApp;
use domain::{entities::console_authenticator, entities::user, Clock};
use reqwest::{header, Response};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use std::{collections::HashMap, sync::Mutex};
use uuid::Uuid;

/// The seeds the harness enrolled, by user id (ids are unique across tests).
static SEEDS: Mutex<Option<HashMap<Uuid, String>>> = Mutex::new(None);

/// The base32 seed of `user_id`'s console authenticator, if the harness (or the demo) enrolled it.
pub fn seed_of(user_id: Uuid) -> Option<String> {
    SEEDS.lock().unwrap().as_ref().and_then(|m| m.get(&user_id).cloned())
}

/// The code of `secret` (base32) for the time step of `t`.
pub fn code_at(secret: &str, t: chrono::DateTime<chrono::Utc>) -> String {
    let seed = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    totp.generate(t.timestamp() as u64)
}

/// Whether a sign-in's answer sends the browser to the second step.
pub fn asks_for_code(res: &Response) -> bool {
    res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).is_some_and(|l| l.starts_with("/signin/code"))
}

impl TestApp {
    /// The account signing in as `email`; a test with no such account fails.
    async fn account(&self, email: &str) -> user::Model {
        user::Entity::find()
            .filter(user::Column::Email.eq(domain::accounts::normalize_email(email)))
            .one(&self.ctx.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{email} has no account"))
    }

    /// Gives `user_id` a confirmed console authenticator with a new seed, which the harness
    /// keeps for [`TestApp::sign_in`]; returns the seed (base32).
    pub async fn give_console_authenticator(&self, user_id: Uuid) -> String {
        let seed: [u8; 20] = rand::random();
        let secret = totp_rs::Secret::Raw(seed.to_vec()).to_encoded().to_string();
        domain::console_auth::enrol_known_seed(&self.ctx, user_id, "Test phone", &secret).await.unwrap();
        SEEDS.lock().unwrap().get_or_insert_with(HashMap::new).insert(user_id, secret.clone());
        secret
    }

    /// A current code of `user_id`'s console authenticator that it has not accepted yet. The
    /// test clock often stands still, where a real app would wait for the next 30 seconds: the
    /// harness instead forgets which step was used last (test-only, straight in the database).
    pub async fn fresh_console_code(&self, user_id: Uuid) -> String {
        let demo = || async {
            let u = user::Entity::find_by_id(user_id).one(&self.ctx.db).await.unwrap()?;
            domain::demo::console_seed(&u.email).map(str::to_owned)
        };
        let secret = match seed_of(user_id) {
            Some(s) => s,
            None => {
                demo().await.unwrap_or_else(|| panic!("the harness enrolled no console authenticator for {user_id}"))
            }
        };
        console_authenticator::Entity::update_many()
            .col_expr(console_authenticator::Column::LastUsedStep, Expr::value(0i64))
            .filter(console_authenticator::Column::UserId.eq(user_id))
            .exec(&self.ctx.db)
            .await
            .unwrap();
        code_at(&secret, self.clock.now())
    }

    /// The second step of `email`'s sign-in in the half-signed-in session `cookie`: its answer.
    pub async fn second_step(&self, email: &str, cookie: &str) -> Response {
        let person = self.account(email).await;
        let code = self.fresh_console_code(person.id).await;
        self.call("auth/sign_in_code", &[("code", &code)], Some(cookie)).await
    }

    /// Signs in with `next` (the page to come back to), through the second step when asked;
    /// the last step's answer.
    pub async fn sign_in_with_next(&self, who: impl crate::Credentials, next: &str) -> Response {
        let form = [("email", who.email()), ("password", who.password()), ("next", next)];
        let res = self.call("auth/sign_in", &form, None).await;
        if !asks_for_code(&res) {
            return res;
        }
        let half = crate::session_cookie(&res).expect("the password step sets the session cookie");
        let person = user::Entity::find()
            .filter(user::Column::Email.eq(domain::accounts::normalize_email(who.email())))
            .one(&self.ctx.db)
            .await
            .unwrap()
            .unwrap();
        let code = self.fresh_console_code(person.id).await;
        self.call("auth/sign_in_code", &[("code", code.as_str()), ("next", next)], Some(&half)).await
    }

    /// Lets the admins of `email`'s tenant sign in with a password alone (straight in the
    /// database): for a console without its secret key, which refuses anyone who needs a factor.
    pub async fn let_admins_in_without_factor(&self, email: &str) {
        use domain::entities::tenant_console_policy;
        use sea_orm::{sea_query::OnConflict, ActiveValue::Set};
        let person = self.account(email).await;
        tenant_console_policy::Entity::insert(tenant_console_policy::ActiveModel {
            tenant_id: Set(person.tenant_id.expect("a tenant's admin")),
            admins_need_second_factor: Set(false),
            updated_at: Set(self.clock.now()),
        })
        .on_conflict(
            OnConflict::column(tenant_console_policy::Column::TenantId)
                .update_column(tenant_console_policy::Column::AdminsNeedSecondFactor)
                .to_owned(),
        )
        .exec_without_returning(&self.ctx.db)
        .await
        .unwrap();
    }

    /// [`Self::second_step`] that must succeed: the signed-in session's cookie.
    pub async fn finish_sign_in_with_code(&self, email: &str, cookie: &str) -> String {
        let res = self.second_step(email, cookie).await;
        assert_eq!(res.status(), 200, "the second step of {email} succeeds");
        crate::session_cookie(&res).expect("the second step sets the session cookie")
    }
}
