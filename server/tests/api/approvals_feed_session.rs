//! The approvals feed looks at its session on every poll, not only when it opens: signing out,
//! or an administrator locking the person, ends an open stream within a poll or two.

use crate::common::*;
use app::functions::{auth::SignOut, users::LockUser};
use reqwest::Response;

async fn open(app: &TestApp, cookie: &str) -> Response {
    let res = app
        .http
        .get(app.url("/portal/approvals/events"))
        .header("sec-fetch-site", "same-origin")
        .header("cookie", cookie.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

/// Reads the stream until it ends; panics if it is still open after 5 s.
async fn ends(res: &mut Response) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, res.chunk()).await {
            Err(_) => panic!("the feed is still open 5 s after its session ended"),
            Ok(Ok(None)) | Ok(Err(_)) => return,
            Ok(Ok(Some(_))) => continue,
        }
    }
}

async fn the_approvals_feed_ends_when_its_session_or_person_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.create_tenant("Acme Feed").await;
    let admin = acme.admin(&app, "admin").await;
    let alice = acme.end_user(&app, "alice").await;

    // Signed out: the open feed ends.
    let cookie = app.sign_in(&alice).await;
    let mut feed = open(&app, &cookie).await;
    let other_tab = app.sign_in(&alice).await;
    let mut stays = open(&app, &other_tab).await;
    app.run(&cookie, SignOut {}).await;
    ends(&mut feed).await;
    // Another session's feed is not touched.
    let more = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        loop {
            match stays.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(more.is_err(), "the other session's feed stays open");

    // Locked by an administrator: that feed ends too.
    let admin_cookie = app.sign_in(&admin).await;
    app.run(&admin_cookie, LockUser { id: alice.id.to_string() }).await;
    ends(&mut stays).await;
}
on_both_databases!(
    the_approvals_feed_ends_when_its_session_or_person_does,
    super::the_approvals_feed_ends_when_its_session_or_person_does
);
