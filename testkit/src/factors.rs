//! An end user's factors as the tests set them up: an invitation sent as their tenant admin
//! would send it, and a step-up on the portal with a current code.

use crate::{Login, TestApp};
use domain::{entities::user, Caller, Role};
use sea_orm::EntityTrait;

impl TestApp {
    /// Invites the end user `who` again, as an admin of their tenant does (audited, and mailed
    /// to them): its link, and nothing else, adds a first factor (see `invite`).
    pub async fn open_enrolment(&self, who: &Login) {
        let row = user::Entity::find_by_id(who.id).one(&self.ctx.db).await.unwrap().expect("the user exists");
        let admin = Caller {
            user_id: uuid::Uuid::nil(),
            role: Role::TenantAdmin,
            tenant_id: row.tenant_id,
            email: "test-admin@hostguard.test".into(),
        };
        let actor = domain::audit::Actor::new("test-admin@hostguard.test", "127.0.0.1");
        let via = domain::users::invitations::Via::Email;
        domain::users::invitations::invite_again(&self.ctx, &admin, &actor, who.id, &via)
            .await
            .unwrap_or_else(|e| panic!("invite {}: {e}", who.email));
    }

    /// Gives a current code (an app code or a recovery code) on the portal, so that the session
    /// of `cookie` may change its user's factors for a few minutes.
    pub async fn step_up(&self, cookie: &str, code: &str) {
        let args = app::functions::portal::StepUp { code: code.to_owned() };
        self.try_run(cookie, args).await.unwrap_or_else(|e| panic!("step-up refused: {e}"));
    }
}
