//! A first factor comes only from the invitation's own pages, reached by proving its link. An
//! active person with no factor (an admin removed a lost phone's factors and invited them
//! again) who signs in with their password alone cannot add one from the portal, even while the
//! invitation is open and the session is newer than it: someone who knows the password but
//! never held the link must not enrol their own factor. Through the link the same person can,
//! with an authenticator app or a passkey.

use crate::common::*;
use app::functions::{
    approvals::RegisterDevice,
    invitations::{
        BeginInvitationAuthenticator, BeginInvitationPasskey, FinishInvitationPasskey, PreviewInvitation,
        SetInvitationPassword,
    },
    passkeys::{BeginPasskey, BeginPasskeySignIn, FinishPasskeySignIn, MyPasskeys},
    phones::BeginPhone,
    portal::{BeginAuthenticator, GenerateRecoveryCodes, MySignInMethods},
    users::{InviteUser, ListUsers},
};
use app::models::users::{UserState, UsersQuery};
use base64::{engine::general_purpose::STANDARD, Engine};
use domain::{
    entities::{approval_device, authenticator, invitation, passkey, passkey_ceremony, phone, recovery_code, user},
    Clock,
};
use p256::{ecdsa::SigningKey, pkcs8::EncodePublicKey};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use testkit::{invite::totp_at, passkey::SoftPasskey, Refused, NO_SESSION};
use uuid::Uuid;

/// The factor rows (and started enrolments) `user_id` has, of every kind.
async fn rows_of(app: &TestApp, user_id: Uuid) -> [u64; 6] {
    let db = &app.ctx.db;
    [
        authenticator::Entity::find().filter(authenticator::Column::UserId.eq(user_id)).count(db).await.unwrap(),
        phone::Entity::find().filter(phone::Column::UserId.eq(user_id)).count(db).await.unwrap(),
        approval_device::Entity::find().filter(approval_device::Column::UserId.eq(user_id)).count(db).await.unwrap(),
        passkey::Entity::find().filter(passkey::Column::UserId.eq(user_id)).count(db).await.unwrap(),
        passkey_ceremony::Entity::find().filter(passkey_ceremony::Column::UserId.eq(user_id)).count(db).await.unwrap(),
        recovery_code::Entity::find().filter(recovery_code::Column::UserId.eq(user_id)).count(db).await.unwrap(),
    ]
}

fn refused_as_link_only(what: &str, r: &Refused) {
    assert_eq!(r.status, 409, "{what}: {r}");
    assert!(r.to_string().contains("only from the link in the invitation"), "{what}: {r}");
}

fn spki(key: &SigningKey) -> String {
    STANDARD.encode(p256::PublicKey::from(key.verifying_key()).to_public_key_der().unwrap().as_bytes())
}

async fn pending_invitation(app: &TestApp, user_id: Uuid) -> invitation::Model {
    let all = invitation::Entity::find().filter(invitation::Column::UserId.eq(user_id)).all(&app.ctx.db).await.unwrap();
    let open: Vec<_> = all.into_iter().filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none()).collect();
    assert_eq!(open.len(), 1, "one open invitation");
    open[0].clone()
}

async fn a_password_alone_adds_no_first_factor_even_with_an_open_invitation(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Links").await;
    let alice = acme.end_user(&app, "alice").await;
    // Her admin invites her again (as after a lost phone); someone who knows her password signs
    // in after that, in a session newer than the invitation.
    app.open_enrolment(&alice).await;
    app.clock.advance(chrono::Duration::minutes(1));
    let thief = app.sign_in(&alice).await;
    let methods = app.run(&thief, MySignInMethods {}).await;
    assert!(!methods.has_factor && methods.enrolment_open_until.is_some(), "{methods:?}");

    let r = app.refused(&thief, BeginAuthenticator { name: "Thief's app".into() }).await;
    refused_as_link_only("an authenticator", &r);
    let r = app.refused(&thief, BeginPhone { number: "+14155550777".into(), name: "Thief's phone".into() }).await;
    refused_as_link_only("a phone", &r);
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let r = app.refused(&thief, RegisterDevice { name: "Thief's browser".into(), public_key: spki(&key) }).await;
    refused_as_link_only("an approval device", &r);
    let r = app.refused(&thief, BeginPasskey { name: "Thief's key".into() }).await;
    refused_as_link_only("a passkey", &r);
    let r = app.refused(&thief, GenerateRecoveryCodes {}).await;
    refused_as_link_only("recovery codes", &r);

    // Nothing was written: no factor, no enrolment begun, no SMS, the invitation still open.
    assert_eq!(rows_of(&app, alice.id).await, [0; 6]);
    assert_eq!(app.sms_count("+14155550777").await, 0);
    let inv = pending_invitation(&app, alice.id).await;
    assert!(inv.password_set_at.is_none());

    // Through the link, the same person adds an app: the invitation is used up.
    let accepted = app.follow_invitation(&alice, "Pixel").await;
    assert_eq!(rows_of(&app, alice.id).await, [1, 0, 0, 0, 0, 0]);
    let used = invitation::Entity::find_by_id(inv.id).one(&app.ctx.db).await.unwrap().unwrap();
    assert!(used.accepted_at.is_some(), "{used:?}");
    // The session the link signed in may add more at once (it just proved the app)...
    app.run(&accepted.cookie, BeginPhone { number: "+14155550778".into(), name: "Work".into() }).await;
    // ...but the password-only session still may not: now it needs a current code.
    let r = app.refused(&thief, BeginPasskey { name: "Thief's key".into() }).await;
    assert_eq!(r.status, 422, "{r}");
    assert!(r.to_string().contains("Enter a current code"), "{r}");
    let fresh = app.sign_in(&alice).await;
    app.clock.advance(chrono::Duration::seconds(30));
    app.step_up(&fresh, &totp_at(&accepted.secret, app.clock.now())).await;
    app.run(&fresh, GenerateRecoveryCodes {}).await;
}
on_both_databases!(
    a_password_alone_adds_no_first_factor_even_with_an_open_invitation,
    super::a_password_alone_adds_no_first_factor_even_with_an_open_invitation
);

/// Dana's state on the Users page.
async fn state(app: &TestApp, admin: &str) -> UserState {
    let page = app.run(admin, ListUsers { query: UsersQuery { search: DANA.into(), ..Default::default() } }).await;
    page.items.into_iter().find(|r| r.email == DANA).unwrap().state
}

const DANA: &str = "dana@keys.example";

async fn a_passkey_from_the_invitation_makes_the_account_active(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Keys", "web-01", &[]).await;
    let admin = app.sign_in(&p.admin).await;
    let invite =
        InviteUser { email: DANA.into(), display_name: "Dana".into(), send_by: String::new(), phone: String::new() };
    app.run(&admin, invite).await;
    let token = app.invitation_token(DANA).await;
    assert_eq!(state(&app, &admin).await, UserState::Invited);

    // The password comes first; a passkey before it is refused.
    let begin = |token: &str| BeginInvitationPasskey { token: token.into(), name: "Laptop".into() };
    let r = app.refused(NO_SESSION, begin(&token)).await;
    assert_eq!(r.status, 409, "{r}");
    assert!(r.to_string().contains("Choose your password first"), "{r}");
    let password = "a passkey person's password";
    let set = SetInvitationPassword { token: token.clone(), password: password.into(), repeat: password.into() };
    app.run(NO_SESSION, set).await;

    // A ceremony of the link is the link's: a bad token starts none.
    let r = app.refused(NO_SESSION, begin("not-the-token")).await;
    assert_eq!(r.status, 404, "{r}");

    let mut key = SoftPasskey::for_app(&app);
    let c = app.run(NO_SESSION, begin(&token)).await;
    let credential = key.register(&c.options);
    let finish = FinishInvitationPasskey { token: token.clone(), ceremony_id: c.ceremony_id.to_string(), credential };
    let ((), cookie) = app.run_for_cookie(finish).await.unwrap();
    let cookie = cookie.expect("the last step signs in");
    assert_eq!(app.me(&cookie).await.as_deref(), Some(DANA));
    let listed = app.run(&cookie, MyPasskeys {}).await;
    assert_eq!(listed.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["Laptop"]);
    let row = user::Entity::find().filter(user::Column::Email.eq(DANA)).one(&app.ctx.db).await.unwrap().unwrap();
    assert!(row.activated_at.is_some(), "the account is active");
    assert_eq!(state(&app, &admin).await, UserState::Active);

    // The link is used up; the passkey signs her in.
    let r = app.refused(NO_SESSION, PreviewInvitation { token: token.clone() }).await;
    assert_eq!(r.status, 409, "{r}");
    assert!(r.to_string().contains("has been used"), "{r}");
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let credential = key.assert(&c.options);
    let args = FinishPasskeySignIn { ceremony_id: c.ceremony_id.to_string(), credential, next: String::new() };
    let (_, signed_in) = app.run_for_cookie(args).await.unwrap();
    assert!(signed_in.is_some(), "the passkey signs her in");

    // An authenticator from the used link is refused too.
    let r = app.refused(NO_SESSION, BeginInvitationAuthenticator { token, name: "Late".into() }).await;
    assert_eq!(r.status, 409, "{r}");
}
on_both_databases!(
    a_passkey_from_the_invitation_makes_the_account_active,
    super::a_passkey_from_the_invitation_makes_the_account_active
);

/// The demo's people (Acme's) have an open invitation whose link the console prints: their
/// password alone adds nothing, the printed link does.
async fn the_demos_people_enrol_from_their_printed_link(backend: Backend) {
    use app::functions::invitations::ConfirmInvitationAuthenticator;
    let app = spawn_app_with(backend, Options::default()).await;
    let (email, password) = ALICE;
    let cookie = app.sign_in(&(email, password)).await;
    let r = app.refused(&cookie, BeginAuthenticator { name: "Mine".into() }).await;
    refused_as_link_only("the demo's portal", &r);

    let links = domain::demo::invitation_links();
    let emails: Vec<&str> = links.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(emails, ["alice@acme.example", "bob@acme.example", "carmen@acme.example"]);
    let token = links[0].1.strip_prefix("/invite?token=").unwrap().to_owned();
    let link = app.run(NO_SESSION, PreviewInvitation { token: token.clone() }).await;
    assert_eq!((link.email.as_str(), link.tenant_name.as_str()), (email, "Acme Retail"));
    let set = SetInvitationPassword { token: token.clone(), password: password.into(), repeat: password.into() };
    app.run(NO_SESSION, set).await;
    let e = app.run(NO_SESSION, BeginInvitationAuthenticator { token: token.clone(), name: "Pixel".into() }).await;
    let code = totp_at(&e.secret, app.clock.now());
    let confirm = ConfirmInvitationAuthenticator { token, id: e.id.to_string(), code };
    let ((), signed_in) = app.run_for_cookie(confirm).await.unwrap();
    let signed_in = signed_in.expect("the link's last step signs her in");
    assert!(app.run(&signed_in, MySignInMethods {}).await.has_factor);
    // Her demo password still signs her in.
    app.sign_in(&(email, password)).await;
}
on_both_databases!(
    the_demos_people_enrol_from_their_printed_link,
    super::the_demos_people_enrol_from_their_printed_link
);
