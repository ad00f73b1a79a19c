//! Signing out with several accounts on one device: "Sign out" ends only the current account's
//! session and the next parked one takes over; "Sign out of all accounts" ends every session
//! the browser holds on the server, so none of the old cookies opens anything afterwards. And
//! over HTTPS both cookies carry `__Host-` names with the attributes that prefix requires.

use crate::common::*;
use app::functions::auth::SignOut;
use app::functions::device_accounts::{AddAccount, OtherAccount, OtherAccounts, SignOutAll};
use domain::entities::session;
use leptos::server_fn::ServerFn;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Every `Set-Cookie` of `res` named `name`, whole.
fn set_cookies(res: &reqwest::Response, name: &str) -> Vec<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .collect()
}

/// `name=value` of the last `Set-Cookie` named `name` (the one the browser keeps).
fn last(res: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(res, name).pop().map(|v| v.split(';').next().unwrap().to_owned())
}

/// A plain form post, as the account menu's forms send it (same origin).
async fn post(app: &TestApp, path: &str, cookies: &str) -> reqwest::Response {
    let res = app
        .http
        .post(app.url(path))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(reqwest::header::COOKIE, cookies)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection() || res.status() == 200, "{} {:?}", res.status(), res.headers());
    res
}

fn value(cookie: &str) -> &str {
    cookie.split_once('=').unwrap().1
}

async fn rows(app: &TestApp, ids: &[&str]) -> u64 {
    session::Entity::find()
        .filter(session::Column::Id.is_in(ids.iter().map(|s| s.to_string())))
        .count(&app.ctx.db)
        .await
        .unwrap()
}

/// Signs `first` in, parks it with "Add another account", then signs `second` in: the
/// session cookies of both and the parked cookie.
async fn two_accounts(app: &TestApp, first: &Login, second: &Login) -> (String, String, String) {
    let first_session = app.sign_in(first).await;
    let res = post(app, AddAccount::PATH, &first_session).await;
    let parked = last(&res, "hostguard_accounts").expect("the parked sessions' cookie");
    let second_session = app.sign_in(second).await;
    (first_session, second_session, parked)
}

async fn sign_out_of_all_accounts_ends_every_session_on_the_server(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme All").await;
    let globex = app.create_tenant("Globex All").await;
    let initech = app.create_tenant("Initech All").await;
    let at_acme = acme.end_user(&app, "carmen").await;
    let at_globex = globex.end_user(&app, "esther").await;
    let at_initech = initech.end_user(&app, "pat").await;
    let (acme_session, globex_session, parked) = two_accounts(&app, &at_acme, &at_globex).await;
    // A third: Globex parked beside Acme, Initech in use.
    let res = post(&app, AddAccount::PATH, &format!("{globex_session}; {parked}")).await;
    let parked = last(&res, "hostguard_accounts").unwrap();
    assert_eq!(value(&parked).split('.').count(), 2);
    let initech_session = app.sign_in(&at_initech).await;
    let jar = format!("{initech_session}; {parked}");
    let others: Vec<OtherAccount> = app.run(&jar, OtherAccounts {}).await;
    assert_eq!(others.len(), 2);
    let ids = [value(&acme_session), value(&globex_session), value(&initech_session)];
    assert_eq!(rows(&app, &ids).await, 3);

    let res = post(&app, SignOutAll::PATH, &jar).await;
    assert_eq!(res.headers().get("location").unwrap(), "/signin");
    assert_eq!(last(&res, "hostguard_session").as_deref(), Some("hostguard_session="), "the session cookie goes");
    assert_eq!(last(&res, "hostguard_accounts").as_deref(), Some("hostguard_accounts="), "the parked cookie goes");
    assert!(set_cookies(&res, "hostguard_accounts").iter().all(|c| c.contains("Max-Age=0")));

    // Ended on the server, not just forgotten by the browser: a copy of any cookie is worthless.
    assert_eq!(rows(&app, &ids).await, 0, "every session row is deleted");
    for cookie in [&acme_session, &globex_session, &initech_session] {
        assert_eq!(app.me(cookie).await, None, "{cookie} opens nothing");
        assert_eq!(app.refused(cookie, OtherAccounts {}).await.status, 401);
    }
    assert_eq!(app.refused(&jar, OtherAccounts {}).await.status, 401);
    for (who, session) in [(&at_acme, &acme_session), (&at_globex, &globex_session)] {
        let with_parked = format!("{session}; {parked}");
        assert_eq!(app.me(&with_parked).await, None, "{} is signed out", who.email);
    }

    // With nothing parked it is a plain sign-out.
    let alone = app.sign_in(&at_acme).await;
    let res = post(&app, SignOutAll::PATH, &alone).await;
    assert_eq!(res.headers().get("location").unwrap(), "/signin");
    assert_eq!(app.me(&alone).await, None);
}
on_both_databases!(
    sign_out_of_all_accounts_ends_every_session_on_the_server,
    super::sign_out_of_all_accounts_ends_every_session_on_the_server
);

async fn sign_out_ends_this_account_and_the_next_parked_one_takes_over(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Next").await;
    let globex = app.create_tenant("Globex Next").await;
    let at_acme = acme.end_user(&app, "carmen").await;
    let at_globex = globex.end_user(&app, "esther").await;
    let (acme_session, globex_session, parked) = two_accounts(&app, &at_acme, &at_globex).await;

    let res = post(&app, SignOut::PATH, &format!("{globex_session}; {parked}")).await;
    assert_eq!(res.headers().get("location").unwrap(), "/portal", "the portal loads as the parked account");
    let now_in_use = last(&res, "hostguard_session").unwrap();
    assert_eq!(now_in_use, acme_session, "Acme's session is the one in use");
    assert_eq!(last(&res, "hostguard_accounts").as_deref(), Some("hostguard_accounts="), "nothing is left parked");
    assert_eq!(app.me(&globex_session).await, None, "the signed-out session ended on the server");
    assert_eq!(rows(&app, &[value(&globex_session)]).await, 0);
    assert_eq!(app.me(&now_in_use).await.as_deref(), Some(at_acme.email.as_str()));

    // Then signing out of the last one lands on the sign-in page.
    let res = post(&app, SignOut::PATH, &now_in_use).await;
    assert_eq!(res.headers().get("location").unwrap(), "/signin");
    assert_eq!(app.me(&acme_session).await, None);

    // A parked session that already ended is skipped: plain sign-out, and the stale cookie goes.
    let (acme_session, globex_session, parked) = two_accounts(&app, &at_acme, &at_globex).await;
    app.run(&acme_session, SignOut {}).await;
    let res = post(&app, SignOut::PATH, &format!("{globex_session}; {parked}")).await;
    assert_eq!(res.headers().get("location").unwrap(), "/signin");
    assert_eq!(last(&res, "hostguard_accounts").as_deref(), Some("hostguard_accounts="));
    assert_eq!(app.me(&globex_session).await, None);
}
on_both_databases!(
    sign_out_ends_this_account_and_the_next_parked_one_takes_over,
    super::sign_out_ends_this_account_and_the_next_parked_one_takes_over
);

/// The attributes of a `Set-Cookie`, lowercased, without its `name=value`.
fn attributes(set: &str) -> Vec<String> {
    set.split(';').skip(1).map(|a| a.trim().to_lowercase()).collect()
}

fn assert_host_only(set: &str) {
    let attrs = attributes(set);
    for want in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "{want} in {set}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "no Domain: {set}");
}

async fn over_https_both_cookies_are_host_prefixed(backend: Backend) {
    let opts = Options { public_url: Some("https://console.example.com".into()), ..Options::empty() };
    let app = spawn_app_with(backend, opts).await;
    let acme = app.create_tenant("Acme Host").await;
    let globex = app.create_tenant("Globex Host").await;
    let at_acme = acme.end_user(&app, "carmen").await;
    let at_globex = globex.end_user(&app, "esther").await;

    let res = app.sign_in_raw(&at_acme, None).await;
    let set = set_cookies(&res, "__Host-hostguard_session");
    assert_eq!(set.len(), 1, "{:?}", res.headers());
    assert_host_only(&set[0]);
    assert!(set_cookies(&res, "hostguard_session").is_empty(), "no plain-named session cookie over HTTPS");
    let acme_session = set[0].split(';').next().unwrap().to_owned();
    assert_eq!(app.me(&acme_session).await.as_deref(), Some(at_acme.email.as_str()));
    assert_eq!(
        app.me(&format!("hostguard_session={}", value(&acme_session))).await,
        None,
        "only the __Host- name counts"
    );

    let res = post(&app, AddAccount::PATH, &acme_session).await;
    let parked = set_cookies(&res, "__Host-hostguard_accounts");
    assert_eq!(parked.len(), 1, "{:?}", res.headers());
    assert_host_only(&parked[0]);
    assert!(set_cookies(&res, "hostguard_accounts").is_empty());
    let cleared = set_cookies(&res, "__Host-hostguard_session");
    assert_host_only(cleared.last().unwrap());
    let parked = parked[0].split(';').next().unwrap().to_owned();

    let globex_session = app.sign_in(&at_globex).await;
    assert!(globex_session.starts_with("__Host-hostguard_session="));
    let jar = format!("{globex_session}; {parked}");
    let others: Vec<OtherAccount> = app.run(&jar, OtherAccounts {}).await;
    assert_eq!(others.len(), 1, "the switcher reads the __Host- parked cookie");

    // Signing out of all: both removals carry Secure, or a browser would refuse them.
    let res = post(&app, SignOutAll::PATH, &jar).await;
    let session_removal = set_cookies(&res, "__Host-hostguard_session");
    assert!(session_removal.iter().any(|c| attributes(c).contains(&"secure".into())), "{session_removal:?}");
    assert_host_only(set_cookies(&res, "__Host-hostguard_accounts").last().unwrap());
    assert_eq!(app.me(&acme_session).await, None);
    assert_eq!(app.me(&globex_session).await, None);
}
on_both_databases!(over_https_both_cookies_are_host_prefixed, super::over_https_both_cookies_are_host_prefixed);
