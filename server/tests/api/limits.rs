//! The limits that keep one client from holding or breaking the console: paging bounds, body
//! size, header and connection limits, cross-site refusal, and the retention purge.

use crate::common::*;
use app::functions::two_factor::ListTwoFactor;
use app::models::{two_factor::TwoFactorQuery, AppError};
use domain::Clock;
use proto::agent::paths;
use reqwest::header;
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn paging_at_the_integer_limit_is_a_field_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let query = TwoFactorQuery::default;
    for (field, q) in [
        ("page", TwoFactorQuery { page: u64::MAX, ..query() }),
        ("page_size", TwoFactorQuery { page_size: u64::MAX, ..query() }),
        ("page", TwoFactorQuery { page: 0, ..query() }),
    ] {
        let refused = app.refused(&admin, ListTwoFactor { query: q.clone() }).await;
        assert_eq!(refused.status, 422, "{field}: {q:?}");
        assert!(matches!(&refused.error, AppError::Validation { field: f, .. } if f == field), "{field}: {refused}");
    }
}
on_both_databases!(paging_at_the_integer_limit_is_a_field_error, super::paging_at_the_integer_limit_is_a_field_error);

#[tokio::test]
async fn oversized_bodies_get_413_in_each_apis_shape() {
    let app = spawn_app(Backend::Sqlite).await;
    let big = "x".repeat(2 * 1024 * 1024);
    let res = app.http.post(app.url("/api/topics/create")).body(big.clone()).send().await.unwrap();
    assert_eq!(res.status(), 413);

    for (path, code) in [(paths::REGISTER, "AGENT."), ("/v2/p1/notifications/topics", "HG.REQUEST.TOO_LARGE")] {
        let res = app
            .http
            .post(app.url(path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["error_code"].as_str().unwrap().starts_with(code), "{path}: {body}");
        assert!(body["error_msg"].as_str().unwrap().contains("at most"), "{path}: {body}");
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options { env: vec![("HOSTGUARD_HEADER_READ_TIMEOUT_SECS", "1".into())], ..Default::default() },
    )
    .await;
    let mut slow = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buf)).await;
    let n = read.expect("the server closes the connection within seconds").unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "closed or 408: {answer:?}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            env: vec![("HOSTGUARD_MAX_CONNECTIONS", "1".into()), ("HOSTGUARD_HEADER_READ_TIMEOUT_SECS", "30".into())],
            ..Default::default()
        },
    )
    .await;
    let idle = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = reqwest::Client::new();
    let waiting = fresh.get(app.url("/healthz")).timeout(Duration::from_millis(700)).send().await;
    assert!(waiting.is_err(), "the only slot is taken: {waiting:?}");
    drop(idle);
    let served = fresh.get(app.url("/healthz")).timeout(Duration::from_secs(10)).send().await.unwrap();
    assert_eq!(served.status(), 200);
}

async fn cross_site_requests_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let sign_in = |origin: Option<&str>, site: Option<&str>| {
        let mut req =
            app.http.post(app.url("/api/auth/sign_in")).form(&[("email", ACME_ADMIN.0), ("password", ACME_ADMIN.1)]);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    // Login CSRF: another site cannot sign the visitor in.
    let res = sign_in(Some("https://evil.example"), None).await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(session_cookie(&res).is_none());
    let res = sign_in(None, Some("cross-site")).await.unwrap();
    assert_eq!(res.status(), 403);
    // The console's own pages still work.
    let res = sign_in(Some(&format!("http://{host}")), Some("same-origin")).await.unwrap();
    assert_eq!(res.status(), 200);
    let admin = session_cookie(&res).unwrap();

    // A state change another site asks for does not happen.
    let res = app
        .http
        .post(app.url("/api/topics/create"))
        .header(header::COOKIE, &admin)
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("name", "planted"), ("display_name", "Planted")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let planted = domain::entities::topic::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .any(|t| t.name == "planted");
    assert!(!planted, "the cross-site request changed nothing");
}
on_both_databases!(cross_site_requests_are_refused, super::cross_site_requests_are_refused);

async fn old_records_are_purged_and_recent_ones_kept(backend: Backend) {
    use domain::entities::{login_attempt, outbox, server_login};
    let app = spawn_app(backend).await;
    let db = &app.ctx.db;
    let now = app.clock.now();
    let attempt = |login: &str, at: chrono::DateTime<chrono::Utc>| login_attempt::ActiveModel {
        login: Set(login.into()),
        failures: Set(3),
        last_failure_at: Set(Some(at)),
        locked_until: Set(None),
    };
    login_attempt::Entity::insert_many([
        attempt("old@acme.example", now - chrono::Duration::hours(2)),
        attempt("recent@acme.example", now - chrono::Duration::minutes(1)),
    ])
    .exec_without_returning(db)
    .await
    .unwrap();
    let message = |status: &str, at: chrono::DateTime<chrono::Utc>| outbox::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(None),
        channel: Set(proto::Channel::Email),
        kind: Set(proto::MessageKind::TopicMessage),
        recipient: Set("x@acme.example".into()),
        sender_name: Set("HostGuard".into()),
        subject: Set(status.into()),
        body_text: Set(String::new()),
        body_html: Set(String::new()),
        status: Set(proto::OutboxStatus::parse(status).unwrap()),
        attempts: Set(1),
        next_attempt_at: Set(at),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        sent_at: Set(None),
        secrets: Set(None),
    };
    let old = now - chrono::Duration::days(31);
    let messages = [message("sent", old), message("pending", old), message("sent", now - chrono::Duration::days(1))];
    let message_ids: Vec<uuid::Uuid> = messages.iter().map(|m| m.id.clone().unwrap()).collect();
    outbox::Entity::insert_many(messages).exec_without_returning(db).await.unwrap();
    // The login audit keeps the retention period (the demo's logins are a day old).
    let login = |at: chrono::DateTime<chrono::Utc>| server_login::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(uuid::Uuid::new_v4()),
        server_id: Set(uuid::Uuid::new_v4()),
        server_name: Set("gone-01".into()),
        account: Set("root".into()),
        source_ip: Set("198.51.100.7".into()),
        source_block: Set("198.51.100.7".into()),
        service: Set("sshd".into()),
        method: Set(proto::login::LoginMethod::None),
        number: Set(0),
        stage: Set(proto::login::LoginStage::Done),
        code_hash: Set(None),
        code_sent_at: Set(None),
        code_expires_at: Set(None),
        attempts: Set(0),
        result: Set(Some(proto::login::LoginResult::Allowed)),
        reason: Set("console unreachable; allowed by fail mode safe".into()),
        offline: Set(true),
        end_user_id: Set(None),
        created_at: Set(at),
        finished_at: Set(Some(at)),
    };
    let login_ids = || async {
        let mut ids: Vec<uuid::Uuid> =
            server_login::Entity::find().all(db).await.unwrap().into_iter().map(|l| l.id).collect();
        ids.sort();
        ids
    };
    // What must stay: the demo's logins (a day old) as they were before the test's rows, and
    // the test's recent one.
    let mut kept = login_ids().await;
    let (old_login, kept_login) = (login(old), login(now - chrono::Duration::days(29)));
    let old_id = old_login.id.clone().unwrap();
    kept.push(kept_login.id.clone().unwrap());
    kept.sort();
    server_login::Entity::insert_many([old_login, kept_login]).exec_without_returning(db).await.unwrap();

    // What went is read from the rows, not from this pass's counts: the console's own purge at
    // start-up may run after the rows above were written, and take the old ones first.
    domain::retention::purge(&app.ctx, domain::retention::Retention::default()).await.unwrap();
    assert!(server_login::Entity::find_by_id(old_id).one(db).await.unwrap().is_none(), "the old login went");
    assert_eq!(login_ids().await, kept, "recent logins (the demo's too) stay");
    let logins: Vec<String> =
        login_attempt::Entity::find().all(db).await.unwrap().into_iter().map(|a| a.login).collect();
    assert_eq!(logins, vec!["recent@acme.example".to_owned()]);
    let mut left: Vec<uuid::Uuid> = outbox::Entity::find().all(db).await.unwrap().into_iter().map(|m| m.id).collect();
    left.sort();
    let mut expected = message_ids[1..].to_vec();
    expected.sort();
    assert_eq!(left, expected, "the old sent message went; the unsent and the recent ones stay");
}
on_both_databases!(old_records_are_purged_and_recent_ones_kept, super::old_records_are_purged_and_recent_ones_kept);
