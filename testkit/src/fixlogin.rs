//! For tests that change factors through `domain` directly: a portal session in the session
//! store, signed in now, whose step-up reference the first-factor rule can find.

use crate::{Login, TestApp};
use domain::entities::session;
use sea_orm::{ActiveValue::Set, EntityTrait};

impl TestApp {
    /// A stored portal session of `who`, signed in now; returns its step-up reference.
    pub async fn stored_session_ref(&self, who: &Login) -> domain::factors::SessionRef {
        let now = domain::Clock::now(&self.clock);
        let id = uuid::Uuid::new_v4();
        let data = serde_json::json!({
            domain::factors::settings::SESSION_USER_KEY: who.id.to_string(),
            "signed_in_at": now.timestamp(),
            domain::factors::guard::SESSION_REF_KEY: [id.to_string(), now.timestamp()],
        });
        session::Entity::insert(session::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            data: Set(data.to_string()),
            expires_at: Set(now + chrono::Duration::hours(1)),
        })
        .exec_without_returning(&self.ctx.db)
        .await
        .unwrap();
        domain::factors::SessionRef(id)
    }
}
