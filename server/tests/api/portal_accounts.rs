//! The portal's sign-in history with filters (only the person's own logins, whatever the
//! filters say) and several accounts on one device: a person with accounts in two tenants
//! parks one session, signs in to the other, and switches back and forth without signing in
//! again; each request acts only as the account whose session it carries.

use crate::common::*;
use app::functions::device_accounts::{AddAccount, OtherAccount, OtherAccounts, SwitchAccount};
use app::functions::history::{HistoryPage, HistoryQuery, HistoryServers, SearchHistory};
use app::models::CurrentUser;
use chrono::Duration;
use domain::{entities::server_login, Clock};
use leptos::server_fn::ServerFn;
use proto::login::{LoginOutcome, LoginResult, LoginStage, SignInMethod};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

/// A login of `who` (or of nobody) on `server` at `at`, finished unless `result` is `None`.
fn login(
    tenant: Uuid,
    server: (Uuid, &str),
    who: Option<Uuid>,
    result: Option<LoginResult>,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> server_login::ActiveModel {
    server_login::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant),
        server_id: Set(server.0),
        server_name: Set(server.1.into()),
        account: Set("deploy".into()),
        source_ip: Set("198.51.100.7".into()),
        source_block: Set("198.51.100.7".into()),
        service: Set("sshd".into()),
        method: Set(proto::login::LoginMethod::Code),
        number: Set(0),
        stage: Set(if result.is_some() { LoginStage::Done } else { LoginStage::Verify }),
        code_hash: Set(None),
        code_sent_at: Set(None),
        code_expires_at: Set(None),
        attempts: Set(0),
        result: Set(result),
        reason: Set(reason.into()),
        offline: Set(false),
        end_user_id: Set(who),
        created_at: Set(at),
        finished_at: Set(result.map(|_| at)),
    }
}

fn query(f: impl FnOnce(&mut HistoryQuery)) -> SearchHistory {
    let mut q = HistoryQuery { page_size: 10, ..Default::default() };
    f(&mut q);
    SearchHistory { query: q }
}

async fn the_history_filters_only_ones_own_logins(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme History").await;
    let alice = acme.end_user(&app, "alice").await;
    let bob = acme.end_user(&app, "bob").await;
    let now = app.clock.now();
    let web = (Uuid::new_v4(), "web-01");
    let db = (Uuid::new_v4(), "db-01");
    let allowed = Some(LoginResult::Allowed);
    let denied = Some(LoginResult::Denied);
    let mut rows = vec![
        login(acme.id, web, Some(alice.id), allowed, "push approved", now - Duration::days(3)),
        login(acme.id, web, Some(alice.id), denied, "push denied", now - Duration::days(2)),
        login(acme.id, db, Some(alice.id), allowed, "code from authenticator Phone", now - Duration::days(1)),
        login(acme.id, db, Some(alice.id), allowed, "one-time code from the portal accepted", now - Duration::hours(1)),
        login(acme.id, db, Some(alice.id), None, "", now - Duration::minutes(1)),
        login(acme.id, db, Some(bob.id), allowed, "push approved", now - Duration::hours(2)),
        login(acme.id, web, None, denied, "account not linked to a HostGuard user", now - Duration::hours(3)),
    ];
    // Enough of Alice's for two pages of 10.
    for i in 0..8 {
        rows.push(login(
            acme.id,
            web,
            Some(alice.id),
            denied,
            "3 wrong codes",
            now - Duration::days(10) - Duration::minutes(i),
        ));
    }
    server_login::Entity::insert_many(rows).exec_without_returning(&app.ctx.db).await.unwrap();
    let cookie = app.sign_in(&alice).await;

    let all: HistoryPage = app.run(&cookie, query(|_| {})).await;
    assert_eq!(all.total, 13, "Alice's own 13, not Bob's nor the unlinked one");
    assert_eq!(all.items.len(), 10);
    assert_eq!(all.items[0].result, LoginOutcome::Open, "newest first");
    let second: HistoryPage = app.run(&cookie, query(|q| q.page = 2)).await;
    assert_eq!(second.items.len(), 3);

    let pushes: HistoryPage = app.run(&cookie, query(|q| q.method = "push".into())).await;
    assert_eq!(pushes.total, 2);
    assert!(pushes.items.iter().all(|r| r.method == Some(SignInMethod::Push)));
    let codes: HistoryPage = app.run(&cookie, query(|q| q.method = "portal_code".into())).await;
    assert_eq!(codes.total, 1);
    let denied_web: HistoryPage =
        app.run(&cookie, query(|q| (q.result, q.server) = ("denied".into(), web.0.to_string()))).await;
    assert_eq!(denied_web.total, 9);
    let open: HistoryPage = app.run(&cookie, query(|q| q.result = "open".into())).await;
    assert_eq!(open.total, 1);
    let today = now.format("%Y-%m-%d").to_string();
    let recent: HistoryPage = app
        .run(&cookie, query(|q| (q.since, q.until) = ((now - Duration::days(1)).format("%Y-%m-%d").to_string(), today)))
        .await;
    assert!(recent.items.iter().all(|r| r.time >= now - Duration::days(2)));
    assert!(recent.total >= 2 && recent.total <= 3, "{}", recent.total);

    // Bob's server filter shows only his; Alice's servers are the two she logged in to.
    let servers = app.run(&cookie, HistoryServers {}).await;
    assert_eq!(servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["db-01", "web-01"]);
    let bob_cookie = app.sign_in(&bob).await;
    let his: HistoryPage = app.run(&bob_cookie, query(|q| q.server = web.0.to_string())).await;
    assert_eq!(his.total, 0, "a filter never reaches another person's logins");

    // Bad filters are refused naming the field; only end users have a history.
    for (q, field) in [
        (query(|q| q.result = "maybe".into()), "result"),
        (query(|q| q.method = "pigeon".into()), "method"),
        (query(|q| q.since = "yesterday".into()), "since"),
        (query(|q| (q.since, q.until) = ("2026-12-05".into(), "2026-12-01".into())), "since"),
        (query(|q| q.page_size = 7), "page_size"),
    ] {
        let r = app.refused(&cookie, q).await;
        assert_eq!(r.status, 422, "{r}");
        assert!(format!("{:?}", r.error).contains(field), "{field}: {r}");
    }
    let admin = acme.admin(&app, "admin").await;
    let admin_cookie = app.sign_in(&admin).await;
    assert_eq!(app.refused(&admin_cookie, query(|_| {})).await.status, 403);
    assert_eq!(app.refused(NO_SESSION, query(|_| {})).await.status, 401);
}
on_both_databases!(the_history_filters_only_ones_own_logins, super::the_history_filters_only_ones_own_logins);

/// `name=value` of each `Set-Cookie` named `name` in `res`.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .rfind(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// A plain form post, as the switcher's forms send it (same origin).
async fn post(app: &TestApp, path: &str, form: &str, cookies: &str) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(reqwest::header::COOKIE, cookies)
        .body(form.to_owned())
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestApp, cookies: &str) -> Option<CurrentUser> {
    app.try_run(cookies, app::functions::auth::WhoAmI {}).await.unwrap()
}

async fn one_person_switches_between_two_tenants_accounts(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Switch").await;
    let globex = app.create_tenant("Globex Switch").await;
    let at_acme = acme.end_user(&app, "pat").await;
    let at_globex = globex.end_user(&app, "pat").await;
    let stranger = globex.end_user(&app, "sam").await;

    // Signed in at Acme; "Add another account" parks that session and drops the cookie.
    let acme_session = app.sign_in(&at_acme).await;
    let res = post(&app, AddAccount::PATH, "", &acme_session).await;
    assert!(res.status().is_redirection() || res.status() == 200, "{} {:?}", res.status(), res.headers());
    let parked = set_cookie(&res, "hostguard_accounts").expect("the parked sessions' cookie");
    let dropped = set_cookie(&res, "hostguard_session").expect("the session cookie is cleared");
    assert_eq!(dropped, "hostguard_session=");
    let parked_id = parked.split('=').nth(1).unwrap().to_owned();
    assert_eq!(format!("hostguard_session={parked_id}"), acme_session, "the parked one is the Acme session");

    // Then signs in at Globex: both cookies go with each request.
    let globex_session = app.sign_in(&at_globex).await;
    let jar = format!("{globex_session}; {parked}");
    assert_eq!(me(&app, &jar).await.unwrap().email, at_globex.email, "a request acts as its session's account");
    let others: Vec<OtherAccount> = app.run(&jar, OtherAccounts {}).await;
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].email, at_acme.email);
    assert_eq!(others[0].tenant_name.as_deref(), Some("Acme Switch"));
    assert!(!others[0].handle.contains(&parked_id), "the page never sees a session id");

    // Switch to Acme: its session is the one in use, Globex's is parked; no sign-in.
    let res = post(&app, SwitchAccount::PATH, &format!("handle={}", others[0].handle), &jar).await;
    assert!(res.status().is_redirection() || res.status() == 200, "{}", res.status());
    let now_in_use = set_cookie(&res, "hostguard_session").unwrap();
    assert_eq!(now_in_use, acme_session);
    let parked = set_cookie(&res, "hostguard_accounts").unwrap();
    assert_eq!(parked, format!("hostguard_accounts={}", globex_session.split('=').nth(1).unwrap()));
    let jar = format!("{now_in_use}; {parked}");
    assert_eq!(me(&app, &jar).await.unwrap().email, at_acme.email);
    let others: Vec<OtherAccount> = app.run(&jar, OtherAccounts {}).await;
    assert_eq!(others.iter().map(|o| o.email.as_str()).collect::<Vec<_>>(), [at_globex.email.as_str()]);

    // A handle the browser does not hold, or a cookie naming another browser's session of
    // someone else, switches nowhere: only sessions this browser parked count, and only while
    // they last.
    let r = post(&app, SwitchAccount::PATH, "handle=0123456789abcdef", &jar).await;
    assert_eq!(r.status(), 404);
    let strangers = app.sign_in(&stranger).await;
    let forged = format!("{now_in_use}; hostguard_accounts={}", strangers.split('=').nth(1).unwrap());
    let listed: Vec<OtherAccount> = app.run(&forged, OtherAccounts {}).await;
    assert_eq!(listed.len(), 1, "a stolen session id is worth what the session cookie is, no more");
    app.run(&strangers, app::functions::auth::SignOut {}).await;
    let listed: Vec<OtherAccount> = app.run(&forged, OtherAccounts {}).await;
    assert!(listed.is_empty(), "a session that ended is gone from the switcher");

    // Locking the Globex account ends its parked session too.
    let admin = globex.admin(&app, "admin").await;
    let admin_cookie = app.sign_in(&admin).await;
    app.run(&admin_cookie, app::functions::users::LockUser { id: at_globex.id.to_string() }).await;
    let others: Vec<OtherAccount> = app.run(&jar, OtherAccounts {}).await;
    assert!(others.is_empty(), "a locked account is not offered");

    // Only end users have the switcher.
    assert_eq!(app.refused(&admin_cookie, OtherAccounts {}).await.status, 403);
}
on_both_databases!(
    one_person_switches_between_two_tenants_accounts,
    super::one_person_switches_between_two_tenants_accounts
);
