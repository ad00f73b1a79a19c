//! Health, readiness, request ids, and the binary's start-up checks.

use crate::common::*;
use std::process::Command;

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ready");
}
on_both_databases!(health_and_readiness, super::health_and_readiness);

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    let id = res.headers().get("x-request-id").expect("a request id is made up").to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let res = app.http.get(app.url("/signin")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "trace-me-42", "a caller's id is kept");
}

#[test]
fn a_bad_setting_stops_the_server_with_one_line_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("HOSTGUARD_APPLY_DELAY_SECS", "soon")
        .output()
        .expect("run the server");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("HOSTGUARD_APPLY_DELAY_SECS") && stderr.contains("whole number of seconds"), "{stderr}");
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("migrate")
        .env("HOSTGUARD_DATABASE_URL", format!("sqlite://{}?mode=rwc", db.display()))
        .output()
        .expect("run the server");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    assert!(db.exists());
}
