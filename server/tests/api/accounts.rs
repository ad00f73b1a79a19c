//! Signing in and out against the real server: cookies, session ids, lockout, timeouts.

use crate::common::*;
use std::time::{Duration, Instant};

/// A console with no demo data: one tenant, its admin and an end user, with passwords only
/// this test knows.
struct World {
    app: TestApp,
    admin: Login,
    alice: Login,
}

async fn world(backend: Backend, opts: Options) -> World {
    let app = spawn_app_with(backend, Options { demo: false, ..opts }).await;
    let acme = app.create_tenant("Acme Retail").await;
    let admin = acme.admin(&app, "admin").await;
    let alice = acme.end_user(&app, "alice").await;
    World { app, admin, alice }
}

async fn sign_in_sets_a_safe_session_cookie(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let res = app.sign_in_raw(&w.admin, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("location").unwrap(), "/hss/two-factor", "a tenant admin lands on 2FA");
    let set = set_session_cookie(&res).expect("session cookie");
    let attrs: Vec<String> = set.split(';').map(|a| a.trim().to_lowercase()).collect();
    assert!(attrs.contains(&"httponly".into()), "{set}");
    assert!(attrs.contains(&"samesite=lax".into()), "{set}");
    assert!(attrs.contains(&"path=/".into()), "{set}");
    assert!(attrs.contains(&"max-age=1800".into()), "idle timeout of 30 minutes: {set}");
    assert!(!attrs.contains(&"secure".into()), "no Secure flag on a plain-http console: {set}");

    let cookie = session_cookie(&res).unwrap();
    assert_eq!(app.me(&cookie).await.as_deref(), Some(w.admin.email.as_str()));
}
on_both_databases!(sign_in_sets_a_safe_session_cookie, super::sign_in_sets_a_safe_session_cookie);

#[tokio::test]
async fn cookie_is_secure_when_the_console_is_served_over_https() {
    let w =
        world(Backend::Sqlite, Options { public_url: Some("https://console.example.com".into()), ..Options::empty() })
            .await;
    let app = &w.app;
    let res = app.sign_in_raw(&w.admin, None).await;
    let set = set_session_cookie(&res).unwrap().to_lowercase();
    assert!(set.split(';').any(|a| a.trim() == "secure"), "{set}");
}

async fn session_id_changes_at_sign_in(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let first = app.sign_in(&w.alice).await;
    // Signing in again while holding a session must not keep that session's id.
    let res = app.sign_in_raw(&w.admin, Some(&first)).await;
    assert_eq!(res.status(), 200);
    let second = session_cookie(&res).expect("a new cookie at sign-in");
    assert_ne!(first, second, "the session id changes at sign-in");
    assert_eq!(app.me(&second).await.as_deref(), Some(w.admin.email.as_str()));
    assert_eq!(app.me(&first).await, None, "the old id no longer opens a session");
}
on_both_databases!(session_id_changes_at_sign_in, super::session_id_changes_at_sign_in);

async fn sign_out_ends_the_session(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let cookie = app.sign_in(&w.admin).await;
    let res = app.call("auth/sign_out", &[], Some(&cookie)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("location").unwrap(), "/signin");
    assert_eq!(app.me(&cookie).await, None, "the cookie is worthless after sign-out");
    let page = app.get_page("/hss/two-factor", Some(&cookie)).await;
    assert_eq!(page.status(), 302);
    // To sign in, and back here after it.
    assert_eq!(page.headers().get("location").unwrap(), "/signin?next=%2Fhss%2Ftwo-factor");
}
on_both_databases!(sign_out_ends_the_session, super::sign_out_ends_the_session);

async fn sign_in_returns_to_the_page_asked_for_and_never_leaves_the_site(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let sign_in = |next: &'static str| {
        let admin = w.admin.clone();
        async move {
            let res = app.sign_in_with_next(&admin, next).await;
            assert_eq!(res.status(), 200, "{next}");
            res.headers().get("location").map(|l| l.to_str().unwrap().to_owned())
        }
    };
    assert_eq!(sign_in("/smn/topics?search=ops").await.as_deref(), Some("/smn/topics?search=ops"));
    for evil in ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/\tevil"] {
        assert_eq!(sign_in(evil).await.as_deref(), Some("/hss/two-factor"), "{evil}");
    }
    // Without the wasm, a wrong password keeps the way back.
    let res = app
        .http
        .post(app.url("/api/auth/sign_in"))
        .header("accept", "text/html")
        .form(&[("email", w.admin.email.as_str()), ("password", "wrong-password"), ("next", "/smn/topics")])
        .send()
        .await
        .unwrap();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    assert_eq!(location.as_deref(), Some("/signin?error=invalid_credentials&next=%2Fsmn%2Ftopics"));
}
on_both_databases!(
    sign_in_returns_to_the_page_asked_for_and_never_leaves_the_site,
    super::sign_in_returns_to_the_page_asked_for_and_never_leaves_the_site
);

async fn wrong_password_and_unknown_account_look_the_same(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let wrong = app.sign_in_raw((w.admin.email.as_str(), "not-the-password"), None).await;
    let unknown = app.sign_in_raw(("nobody@acme.example", "not-the-password"), None).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(set_session_cookie(&wrong).is_none(), "no session for a failed sign-in");
    let (a, b) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(a, b);
    assert!(a.contains("InvalidCredentials"), "{a}");

    let empty = app.sign_in_raw(("", "x"), None).await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("\"field\":\"email\""));
}
on_both_databases!(
    wrong_password_and_unknown_account_look_the_same,
    super::wrong_password_and_unknown_account_look_the_same
);

async fn repeated_failures_slow_down_then_lock(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let wrong = (w.alice.email.as_str(), "guess-guess-guess");
    let mut elapsed = vec![];
    for _ in 0..4 {
        let t = Instant::now();
        let res = app.sign_in_raw(wrong, None).await;
        assert_eq!(res.status(), 401);
        elapsed.push(t.elapsed());
    }
    assert!(elapsed[3] >= Duration::from_millis(1000), "the fourth failure is answered slowly: {elapsed:?}");

    let fifth = app.sign_in_raw(wrong, None).await;
    assert_eq!(fifth.status(), 429);
    assert!(fifth.text().await.unwrap().contains("Locked"));
    // Locked: even the right password is refused, without being checked.
    let right = app.sign_in_raw(&w.alice, None).await;
    assert_eq!(right.status(), 429);

    // A name without an account locks the same way, so the lock reveals nothing.
    for _ in 0..4 {
        assert_eq!(app.sign_in_raw(("ghost@acme.example", "guess-guess-guess"), None).await.status(), 401);
    }
    assert_eq!(app.sign_in_raw(("ghost@acme.example", "guess-guess-guess"), None).await.status(), 429);

    // Other accounts are unaffected, and the lock ends after 15 minutes.
    app.sign_in(&w.admin).await;
    app.clock.advance(chrono::Duration::minutes(15));
    app.sign_in(&w.alice).await;
}
on_both_databases!(repeated_failures_slow_down_then_lock, super::repeated_failures_slow_down_then_lock);

async fn sessions_end_after_their_absolute_lifetime(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let cookie = app.sign_in(&w.admin).await;
    app.clock.advance(chrono::Duration::hours(11));
    assert!(app.me(&cookie).await.is_some(), "still signed in after 11 hours of use");
    app.clock.advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    assert_eq!(app.me(&cookie).await, None, "signed out 12 hours after sign-in");
}
on_both_databases!(sessions_end_after_their_absolute_lifetime, super::sessions_end_after_their_absolute_lifetime);

async fn sessions_are_shared_by_replicas(backend: Backend) {
    // Two servers on one database: a session made on one is valid on the other, and signing
    // out on the second ends it on the first.
    let w = world(backend, Options::empty()).await;
    let first = &w.app;
    let second =
        spawn_app_with(backend, Options { database_url: Some(first.database_url.clone()), ..Options::empty() }).await;
    let cookie = first.sign_in(&w.admin).await;
    assert_eq!(second.me(&cookie).await.as_deref(), Some(w.admin.email.as_str()));
    second.call("auth/sign_out", &[], Some(&cookie)).await;
    assert_eq!(first.me(&cookie).await, None);
}
on_both_databases!(sessions_are_shared_by_replicas, super::sessions_are_shared_by_replicas);

/// The failure count of a sign-in name, as stored.
async fn failures_of(app: &TestApp, login: &str) -> i32 {
    use sea_orm::EntityTrait;
    domain::entities::login_attempt::Entity::find_by_id(login.to_owned())
        .one(&app.ctx.db)
        .await
        .unwrap()
        .map_or(0, |row| row.failures)
}

async fn parallel_guesses_do_not_get_past_the_lock(backend: Backend) {
    // Only the name's lock here; the address's has its own test.
    let lockout = domain::lockout::LockoutPolicy { source_lock_after: 1000, ..Default::default() };
    let w = world(backend, Options { lockout, ..Options::empty() }).await;
    let app = &w.app;
    let wrong = (w.alice.email.as_str(), "guess-guess-guess");
    let answers = futures::future::join_all((0..40).map(|_| app.sign_in_raw(wrong, None))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert!(checked <= 5, "at most 5 of 40 parallel guesses are checked: {statuses:?}");
    assert!(refused >= 35, "the rest are refused with 429: {statuses:?}");
    assert_eq!(checked + refused + busy, 40, "nothing else, never a sign-in: {statuses:?}");
    assert_eq!(failures_of(app, w.alice.email.as_str()).await, 40, "every attempt is counted");
    assert_eq!(app.sign_in_raw(&w.alice, None).await.status(), 429, "the lock holds for the right password too");
}
on_both_databases!(parallel_guesses_do_not_get_past_the_lock, super::parallel_guesses_do_not_get_past_the_lock);

async fn parallel_failures_are_each_counted(backend: Backend) {
    let lockout = domain::lockout::LockoutPolicy {
        lock_after: 1000,
        delay_step: Duration::ZERO,
        source_lock_after: 1000,
        ..Default::default()
    };
    let w = world(backend, Options { lockout, ..Options::empty() }).await;
    let app = &w.app;
    let answers =
        futures::future::join_all((0..20).map(|_| app.sign_in_raw(("ghost@acme.example", "guess"), None))).await;
    assert!(answers.iter().all(|r| [401, 503].contains(&r.status().as_u16())));
    assert_eq!(failures_of(app, "ghost@acme.example").await, 20, "20 parallel wrong passwords count 20");
}
on_both_databases!(parallel_failures_are_each_counted, super::parallel_failures_are_each_counted);

async fn spraying_many_names_from_one_address_is_slowed(backend: Backend) {
    let lockout = domain::lockout::LockoutPolicy { delay_step: Duration::ZERO, ..Default::default() };
    let w = world(backend, Options { lockout, ..Options::empty() }).await;
    let app = &w.app;
    let limit = lockout.source_lock_after as usize;
    for i in 0..limit {
        let res = app.sign_in_raw((&format!("user{i}@acme.example"), "Winter2026!"), None).await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    // A name never tried before, from the same address: refused without a check.
    let res = app.sign_in_raw(("newname@acme.example", "Winter2026!"), None).await;
    assert_eq!(res.status(), 429);
    assert!(res.text().await.unwrap().contains("from your address"));
    assert_eq!(app.sign_in_raw(&w.admin, None).await.status(), 429, "until the address's lock ends");
    app.clock.advance(chrono::Duration::minutes(15));
    app.sign_in(&w.admin).await;
}
on_both_databases!(
    spraying_many_names_from_one_address_is_slowed,
    super::spraying_many_names_from_one_address_is_slowed
);

async fn huge_sign_in_names_are_refused_by_field(backend: Backend) {
    let w = world(backend, Options::empty()).await;
    let app = &w.app;
    let name = format!("{}@acme.example", "a".repeat(3000));
    let res = app.sign_in_raw((&name, "x"), None).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("\"field\":\"email\"") && body.contains("at most 254"), "{body}");
    let res = app.sign_in_raw((w.alice.email.as_str(), &"p".repeat(5000)), None).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("\"field\":\"password\""));
}
on_both_databases!(huge_sign_in_names_are_refused_by_field, super::huge_sign_in_names_are_refused_by_field);
