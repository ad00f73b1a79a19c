//! Fixes from the security review of issue 17: a lock ends logins already under way (and
//! their pushes); per-person push limits hold under parallel logins on several servers; the
//! admin's lost-phone help removes every kind of factor, and a person left with none is
//! refused; removing a factor, inviting again and locking end the person's portal sessions,
//! and an old session or an old invitation link cannot enrol.

use crate::common::*;
use app::functions::users::LockUser;
use domain::entities::push_request;
use proto::login::{Action, LoginReply};
use proto::push::PushStatus;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

const PHONE: &str = "+8613800004321";

struct World {
    app: TestApp,
    p: Protected,
    alice: Login,
    admin_cookie: String,
}

/// A verification-code server whose `root` is Alice's; Alice has a phone and an approval device.
async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Review", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let alice = app.account_owner(&p, "alice", "root").await;
    app.give_phone(&p, &alice, PHONE).await;
    app.give_approval_device(&p, &alice).await;
    app.set_credits(p.tenant.id, 500).await;
    let admin_cookie = app.sign_in(&p.admin).await;
    World { app, p, alice, admin_cookie }
}

impl World {
    async fn start(&self) -> LoginReply {
        self.app.start_ok(&self.p, "root", "198.51.100.7").await
    }

    async fn answer(&self, login: &LoginReply, answer: &str) -> LoginReply {
        self.app.answer_ok(&self.p, login.login_id, answer).await
    }

    async fn lock_alice(&self) {
        self.app.run(&self.admin_cookie, LockUser { id: self.alice.id.to_string() }).await;
    }
}

/// Logins begun before the lock: a pending push is expired by the lock, a push approved just
/// before it, an SMS passcode and a call's code typed after it are all refused as "user locked".
async fn a_lock_ends_the_logins_under_way(backend: Backend) {
    let w = world(backend).await;
    let pushed = w.start().await;
    w.answer(&pushed, "1").await;
    let approved = w.start().await;
    w.answer(&approved, "1").await;
    w.app.decide_push(approved.login_id, PushStatus::Approved).await;
    let texted = w.start().await;
    w.answer(&texted, "3").await;
    let sms = w.app.sms_code(PHONE).await;
    let called = w.start().await;
    w.answer(&called, "2").await;
    let spoken = w.app.spoken_code(PHONE).await;

    w.lock_alice().await;
    let request = w.app.push_request_of(pushed.login_id).await;
    assert_eq!(request.status, PushStatus::Expired, "the lock expires the person's pending pushes");

    for (login, answer) in [(&pushed, ""), (&approved, ""), (&texted, sms.as_str()), (&called, spoken.as_str())] {
        let done = w.answer(login, answer).await;
        assert!(matches!(done.step.action, Action::Deny { .. }), "{:?}", done.step);
        let row = w.app.login_row(login.login_id).await;
        assert_eq!(row.result, Some(proto::login::LoginResult::Denied));
        assert!(row.reason.starts_with("user locked"), "{}", row.reason);
    }
}
on_both_databases!(a_lock_ends_the_logins_under_way, super::a_lock_ends_the_logins_under_way);

/// Many logins of one person at once, on several servers, each sending a push as it begins
/// (Push is her default): never more than 3 pushes a minute.
async fn parallel_logins_on_several_servers_keep_the_push_limit(backend: Backend) {
    use domain::entities::factor_preference;
    let w = world(backend).await;
    factor_preference::Entity::insert(factor_preference::ActiveModel {
        user_id: Set(w.alice.id),
        tenant_id: Set(w.p.tenant.id),
        default_method: Set(proto::DefaultMethod::Push),
        updated_at: Set(domain::Clock::now(&w.app.clock)),
    })
    .exec_without_returning(&w.app.ctx.db)
    .await
    .unwrap();
    let mut servers = vec![w.app.agent_of(&w.p)];
    for i in 2..=6 {
        servers.push(another_server(&w.app, &w.p, &format!("web-0{i}")).await);
    }
    let logins = servers.iter().flat_map(|s| (0..3).map(move |_| s.login_start("root", "198.51.100.7")));
    let replies = futures::future::join_all(logins).await;
    assert_eq!(replies.len(), 18);
    let pushes = push_request::Entity::find()
        .filter(push_request::Column::UserId.eq(w.alice.id))
        .count(&w.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(pushes, 3, "at most 3 pushes a minute, however the logins race");
}
on_both_databases!(
    parallel_logins_on_several_servers_keep_the_push_limit,
    super::parallel_logins_on_several_servers_keep_the_push_limit
);

/// Another server of `p`'s tenant, registered by its agent, with verification codes in force.
async fn another_server(app: &TestApp, p: &Protected, name: &str) -> testkit::FakeAgent {
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let (token, _) = domain::agents::create_install_token(&app.ctx, &p.caller, &actor).await.unwrap();
    let agent = app.register_agent(&token, &testkit::debian_facts(name)).await;
    let other = Protected {
        tenant: p.tenant.clone(),
        admin: p.admin.clone(),
        caller: p.caller.clone(),
        server_id: agent.server_id,
        server_name: name.to_owned(),
        credential: agent.credential.clone(),
        topic_id: p.topic_id,
    };
    app.put_in_force(&other, Some("code")).await;
    agent
}

/// A lost phone with everything on it: the admin removes Alice's phone, approval device and
/// passkey (each audited and mailed, like an app); with nothing left, her logins are refused.
async fn the_admin_removes_every_kind_of_factor_and_then_logins_are_refused(backend: Backend) {
    use app::functions::users::{ListUsers, RemoveFactor};
    use app::models::users::{FactorKind, UsersQuery};
    use domain::entities::passkey;
    let w = world(backend).await;
    let now = domain::Clock::now(&w.app.clock);
    passkey::Entity::insert(passkey::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(w.p.tenant.id),
        user_id: Set(w.alice.id),
        name: Set("Laptop".into()),
        credential_id: Set(vec![1, 2, 3]),
        credential: Set("{}".into()),
        created_at: Set(now),
        last_used_at: Set(None),
    })
    .exec_without_returning(&w.app.ctx.db)
    .await
    .unwrap();
    let row = |page: app::models::users::UsersPage| page.items.into_iter().find(|p| p.id == w.alice.id).unwrap();
    let page = w.app.run(&w.admin_cookie, ListUsers { query: UsersQuery::default() }).await;
    let factors = row(page).factors;
    let mut kinds: Vec<_> = factors.iter().map(|f| f.kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(kinds, [FactorKind::ApprovalDevice, FactorKind::Passkey, FactorKind::Phone]);
    assert!(matches!(w.start().await.step.action, Action::Prompt { .. }), "she can log in before");
    // A bad kind names the field.
    let bad = RemoveFactor { id: w.alice.id.to_string(), factor: "printer:1".into() };
    assert_eq!(w.app.refused(&w.admin_cookie, bad).await.status, 422);
    for f in &factors {
        let factor = format!("{}:{}", f.kind.as_str(), f.id.unwrap());
        w.app.run(&w.admin_cookie, RemoveFactor { id: w.alice.id.to_string(), factor: factor.clone() }).await;
        let again = RemoveFactor { id: w.alice.id.to_string(), factor };
        assert_eq!(w.app.refused(&w.admin_cookie, again).await.status, 404);
    }
    let page = w.app.run(&w.admin_cookie, ListUsers { query: UsersQuery::default() }).await;
    assert!(row(page).factors.is_empty());
    let removed = domain::entities::audit_event::Entity::find()
        .filter(
            domain::entities::audit_event::Column::Action.eq(proto::audit::AuditAction::FactorRemovedByAdmin.as_str()),
        )
        .count(&w.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let login = w.start().await;
    assert!(matches!(login.step.action, Action::Deny { .. }), "{:?}", login.step);
    assert_eq!(w.app.login_row(login.login_id).await.result, Some(proto::login::LoginResult::Denied));
}
on_both_databases!(
    the_admin_removes_every_kind_of_factor_and_then_logins_are_refused,
    super::the_admin_removes_every_kind_of_factor_and_then_logins_are_refused
);

/// Removing a factor, inviting again and locking each end the person's portal sessions (a
/// thief with the lost phone may hold one).
async fn admin_actions_on_a_lost_phone_end_the_persons_sessions(backend: Backend) {
    use app::functions::users::{InviteAgain, RemoveFactor};
    let w = world(backend).await;
    let id = w.alice.id.to_string();
    let cookie = w.app.sign_in(&w.alice).await;
    let bystander = w.app.sign_in(&w.p.admin).await;
    assert!(w.app.me(&cookie).await.is_some());
    let phone = domain::entities::phone::Entity::find()
        .filter(domain::entities::phone::Column::UserId.eq(w.alice.id))
        .one(&w.app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    w.app.run(&w.admin_cookie, RemoveFactor { id: id.clone(), factor: format!("phone:{}", phone.id) }).await;
    assert!(w.app.me(&cookie).await.is_none(), "removing a factor signs her out");

    let cookie = w.app.sign_in(&w.alice).await;
    w.app.run(&w.admin_cookie, InviteAgain { id: id.clone(), send_by: String::new(), phone: String::new() }).await;
    assert!(w.app.me(&cookie).await.is_none(), "inviting her again signs her out");

    let cookie = w.app.sign_in(&w.alice).await;
    w.lock_alice().await;
    assert!(w.app.me(&cookie).await.is_none(), "locking her signs her out");
    assert!(w.app.me(&bystander).await.is_some(), "nobody else's session ends");
    assert!(w.app.me(&w.admin_cookie).await.is_some());
}
on_both_databases!(
    admin_actions_on_a_lost_phone_end_the_persons_sessions,
    super::admin_actions_on_a_lost_phone_end_the_persons_sessions
);

/// The portal never adds a first factor, not even in a session signed in after a lost-phone
/// re-invite: only the invitation's link does (see `first_factor_link_only`).
async fn no_portal_session_adds_a_first_factor_after_a_re_invite(backend: Backend) {
    use app::functions::portal::BeginAuthenticator;
    let w = world(backend).await;
    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    let old = w.app.sign_in(&bob).await;
    w.app.clock.advance(chrono::Duration::minutes(1));
    w.app.open_enrolment(&bob).await;
    let fresh = w.app.sign_in(&bob).await;
    for session in [&old, &fresh] {
        let refused = w.app.refused(session, BeginAuthenticator { name: "Thief".into() }).await;
        assert_eq!(refused.status, 409, "{refused}");
        assert!(refused.to_string().contains("only from the link in the invitation"), "{refused}");
    }
    w.app.follow_invitation(&bob, "Pixel").await;
}
on_both_databases!(
    no_portal_session_adds_a_first_factor_after_a_re_invite,
    super::no_portal_session_adds_a_first_factor_after_a_re_invite
);
