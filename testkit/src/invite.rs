//! A first factor the only way there is: the person's admin invites them (again), and they
//! follow the link from the message: a password, then an authenticator app confirmed with its
//! code. The link is read from the outbox, as the mail carries it.

use crate::{session_cookie, Login, TestApp, NO_SESSION};
use app::functions::invitations::{BeginInvitationAuthenticator, SetInvitationPassword};
use domain::{
    entities::{invitation, outbox},
    factors::SessionRef,
    Clock,
};
use proto::MessageKind;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// A person who accepted their invitation with an authenticator app.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The portal session the link's last step signed in (`name=value`); it may change the
    /// person's factors for a few minutes, as after any first factor.
    pub cookie: String,
    /// The app's seed (base32). The code that confirmed it is spent.
    pub secret: String,
}

/// The code `secret` shows at `t`.
pub fn totp_at(secret: &str, t: chrono::DateTime<chrono::Utc>) -> String {
    let seed = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    totp.generate(t.timestamp() as u64)
}

impl TestApp {
    /// The token of the newest invitation message to `address`, from the outbox (the stored
    /// text holds a placeholder; the rendered one, as sent, holds the link).
    pub async fn invitation_token(&self, address: &str) -> String {
        let m = outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq(address))
            .filter(outbox::Column::Kind.eq(MessageKind::Invitation))
            .order_by_desc(outbox::Column::CreatedAt)
            .one(&self.ctx.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no invitation to {address} in the outbox"));
        let text = domain::outbox::render(&m).body_text;
        let at = text.find("/invite?token=").unwrap_or_else(|| panic!("no link in {text}")) + "/invite?token=".len();
        text[at..].split(|c: char| c.is_whitespace()).next().unwrap().to_owned()
    }

    /// `who`'s admin invites them again and they choose their password (the same one) from the
    /// link: returns the link's token.
    pub async fn invited_with_password(&self, who: &Login) -> String {
        self.open_enrolment(who).await;
        let token = self.invitation_token(&who.email).await;
        let args = SetInvitationPassword { token: token.clone(), password: who.password.clone(), repeat: who.password.clone() };
        self.try_run(NO_SESSION, args).await.unwrap_or_else(|e| panic!("password from the link: {e}"));
        token
    }

    /// For tests that call the domain directly: the reference the invitation's own pages add a
    /// first factor under (the invitation's id), once `who` was invited again and chose their
    /// password from the link.
    pub async fn invitation_session(&self, who: &Login) -> SessionRef {
        self.invited_with_password(who).await;
        let inv = invitation::Entity::find()
            .filter(invitation::Column::UserId.eq(who.id))
            .order_by_desc(invitation::Column::CreatedAt)
            .one(&self.ctx.db)
            .await
            .unwrap()
            .expect("an invitation");
        SessionRef(inv.id)
    }

    /// `who` is invited again and follows the link: their password, then the authenticator app
    /// `name` confirmed with its current code. Returns the session the last step signs in.
    pub async fn accept_invitation(&self, who: &Login, name: &str) -> Accepted {
        self.open_enrolment(who).await;
        self.follow_invitation(who, name).await
    }

    /// `who` follows the link of the newest invitation they were sent, as
    /// [`TestApp::accept_invitation`] does.
    pub async fn follow_invitation(&self, who: &Login, name: &str) -> Accepted {
        let token = self.invitation_token(&who.email).await;
        let args = SetInvitationPassword { token: token.clone(), password: who.password.clone(), repeat: who.password.clone() };
        self.try_run(NO_SESSION, args).await.unwrap_or_else(|e| panic!("password from the link: {e}"));
        let e = self.run(NO_SESSION, BeginInvitationAuthenticator { token: token.clone(), name: name.into() }).await;
        let code = totp_at(&e.secret, self.clock.now());
        // Raw: the answer's session cookie is what this step is for.
        let res = self
            .call("public/invitation/authenticator/confirm", &[("token", &token), ("id", &e.id.to_string()), ("code", &code)], None)
            .await;
        assert_eq!(res.status(), 200, "the invitation's last step");
        Accepted { cookie: session_cookie(&res).expect("the last step signs in"), secret: e.secret }
    }
}
