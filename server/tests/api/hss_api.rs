//! The HSS-compatible API over HTTP: requests signed here the way Huawei Cloud's SDKs sign
//! them (SDK-HMAC-SHA256), every way a request is refused, and the SMN topic and subscription
//! calls, on both databases.

use crate::common::*;
use app::functions::access_keys::{CreateAccessKey, ListAccessKeys, RevokeAccessKey};
use app::functions::two_factor::CancelTwoFactor;
use app::models::{Method as TwoFactorMethod, TwoFactorRow, TwoFactorState};
use hmac::{Hmac, Mac};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An access key as the console hands it out.
#[derive(Clone)]
pub(crate) struct Key {
    ak: String,
    sk: String,
    pub(crate) project: String,
}

pub(crate) async fn create_key(app: &TestApp, cookie: &str) -> Key {
    let created = app.run(cookie, CreateAccessKey { description: "test script".into() }).await;
    Key { ak: created.access_key, sk: created.secret_key, project: created.project_id }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Python's `quote(s, safe='~')`: everything but unreserved characters is %XX.
fn quote(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the test sends; signed by [`sign`] like huaweicloudsdkcore's `Signer`.
pub(crate) struct Req<'a> {
    method: Method,
    /// Path segments after the project id, unencoded.
    segments: Vec<&'a str>,
    version: &'a str,
    project: &'a str,
    query: Vec<(&'a str, String)>,
    body: Option<Value>,
    date: chrono::DateTime<chrono::Utc>,
    extra_headers: Vec<(&'a str, String)>,
}

impl<'a> Req<'a> {
    pub(crate) fn new(
        app: &TestApp,
        method: Method,
        version: &'a str,
        project: &'a str,
        segments: Vec<&'a str>,
    ) -> Self {
        Req {
            method,
            segments,
            version,
            project,
            query: vec![],
            body: None,
            date: app.clock_now(),
            extra_headers: vec![],
        }
    }

    fn path(&self) -> String {
        let mut p = format!("/{}/{}", self.version, quote(self.project));
        for s in &self.segments {
            p.push('/');
            p.push_str(&quote(s));
        }
        p
    }

    fn query_string(&self) -> String {
        let mut q = self.query.clone();
        q.sort();
        q.iter().map(|(k, v)| format!("{}={}", quote(k), quote(v))).collect::<Vec<_>>().join("&")
    }
}

fn sign(app: &TestApp, key: &Key, req: &Req<'_>) -> Vec<(String, String)> {
    let host = app.base.trim_start_matches("http://").to_owned();
    let body = req.body.as_ref().map(|b| b.to_string()).unwrap_or_default();
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("host".into(), host),
        ("x-project-id".into(), key.project.clone()),
        ("x-sdk-date".into(), req.date.format("%Y%m%dT%H%M%SZ").to_string()),
    ];
    for (k, v) in &req.extra_headers {
        headers.retain(|(name, _)| name != k);
        headers.push((k.to_string(), v.clone()));
    }
    headers.sort();
    let signed = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical = format!(
        "{}\n{}/\n{}\n{}\n{}\n{}",
        req.method.as_str(),
        req.path(),
        req.query_string(),
        headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect::<String>(),
        signed,
        hex(&Sha256::digest(body.as_bytes())),
    );
    let date = req.date.format("%Y%m%dT%H%M%SZ").to_string();
    let to_sign = format!("SDK-HMAC-SHA256\n{date}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut mac = Hmac::<Sha256>::new_from_slice(key.sk.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = hex(&mac.finalize().into_bytes());
    headers.retain(|(k, _)| k != "host");
    headers.push((
        "authorization".into(),
        format!("SDK-HMAC-SHA256 Access={}, SignedHeaders={signed}, Signature={signature}", key.ak),
    ));
    headers
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use domain::Clock;
        self.clock.now()
    }
}

async fn send_with(app: &TestApp, req: &Req<'_>, headers: Vec<(String, String)>) -> Response {
    let qs = req.query_string();
    let url = if qs.is_empty() { app.url(&req.path()) } else { app.url(&format!("{}?{qs}", req.path())) };
    let mut r = app.http.request(req.method.clone(), url);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    if let Some(b) = &req.body {
        r = r.body(b.to_string());
    }
    r.send().await.unwrap()
}

pub(crate) async fn send(app: &TestApp, key: &Key, req: &Req<'_>) -> Response {
    send_with(app, req, sign(app, key, req)).await
}

/// The status and body of an answer.
async fn answer(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON answer, got {status} {text}")))
}

async fn expect_error(res: Response, status: u16, code: &str, mentions: &str) {
    let (got, body) = answer(res).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let msg = body["error_msg"].as_str().unwrap();
    assert!(msg.contains(mentions), "{msg:?} should mention {mentions:?}");
}

fn topics<'a>(app: &TestApp, key: &'a Key, method: Method) -> Req<'a> {
    Req::new(app, method, "v2", &key.project, vec!["notifications", "topics"])
}

async fn signed_requests_and_every_refusal(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &acme).await;
    assert_eq!(key.ak.len(), 20);
    assert_eq!(key.sk.len(), 40);
    assert_eq!(key.project.len(), 32);

    let (status, body) = answer(send(&app, &key, &topics(&app, &key, Method::GET)).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(body["topic_count"].as_u64().is_some());

    // The request as signed, but with a wrong secret.
    let wrong = Key { sk: "x".repeat(40), ..key.clone() };
    expect_error(send(&app, &wrong, &topics(&app, &key, Method::GET)).await, 401, "HG.AUTH.BAD_SIGNATURE", &key.ak)
        .await;

    // Signed, then changed on the way: another query string.
    let req = topics(&app, &key, Method::GET);
    let headers = sign(&app, &key, &req);
    let mut changed = topics(&app, &key, Method::GET);
    changed.query.push(("limit", "1".into()));
    expect_error(send_with(&app, &changed, headers).await, 401, "HG.AUTH.BAD_SIGNATURE", "signature").await;

    let unknown = Key { ak: "AAAAAAAAAAAAAAAAAAAA".into(), ..key.clone() };
    expect_error(send(&app, &unknown, &topics(&app, &key, Method::GET)).await, 401, "HG.AUTH.UNKNOWN_KEY", "AAAA")
        .await;

    for minutes in [16, -16] {
        let mut req = topics(&app, &key, Method::GET);
        req.date = app.clock_now() + chrono::Duration::minutes(minutes);
        expect_error(send(&app, &key, &req).await, 401, "HG.AUTH.DATE_SKEW", "15 minutes").await;
    }
    let mut req = topics(&app, &key, Method::GET);
    req.date = app.clock_now() - chrono::Duration::minutes(14);
    assert_eq!(send(&app, &key, &req).await.status(), 200, "14 minutes off is still fine");

    let res = app.http.get(app.url(&format!("/v2/{}/notifications/topics", key.project))).send().await.unwrap();
    expect_error(res, 401, "HG.AUTH.MISSING", "Authorization").await;

    // Another tenant's project, in the path or in X-Project-Id.
    let globex = app.sign_in(GLOBEX_ADMIN).await;
    let globex_key = create_key(&app, &globex).await;
    let req = Req::new(&app, Method::GET, "v2", &globex_key.project, vec!["notifications", "topics"]);
    expect_error(send(&app, &key, &req).await, 403, "HG.AUTH.PROJECT_MISMATCH", &globex_key.project).await;
    let mut req = topics(&app, &key, Method::GET);
    req.extra_headers.push(("x-project-id", globex_key.project.clone()));
    expect_error(send(&app, &key, &req).await, 403, "HG.AUTH.PROJECT_MISMATCH", "X-Project-Id").await;

    // The bearer form, for curl.
    let url = app.url(&format!("/v2/{}/notifications/topics", key.project));
    let bearer = |token: String| app.http.get(&url).header("authorization", format!("Bearer {token}")).send();
    assert_eq!(bearer(format!("{}.{}", key.ak, key.sk)).await.unwrap().status(), 200);
    expect_error(
        bearer(format!("{}.{}", key.ak, "y".repeat(40))).await.unwrap(),
        401,
        "HG.AUTH.BAD_SIGNATURE",
        &key.ak,
    )
    .await;
    expect_error(bearer(key.ak.clone()).await.unwrap(), 401, "HG.AUTH.MISSING", "<AK>.<SK>").await;

    // The console lists the key with its last use, never its secret.
    let listed = app.call("access_keys/list", &[], Some(&acme)).await.text().await.unwrap();
    assert!(!listed.contains(&key.sk), "the secret is never listed");
    let listed = app.run(&acme, ListAccessKeys {}).await;
    let row = listed.keys.iter().find(|k| k.access_key == key.ak).unwrap();
    assert!(row.last_used.is_some(), "{row:?}");

    // Revoked: refused, by name.
    app.run(&acme, RevokeAccessKey { id: row.id.to_string() }).await;
    expect_error(send(&app, &key, &topics(&app, &key, Method::GET)).await, 401, "HG.AUTH.REVOKED_KEY", "revoked").await;
    expect_error(bearer(format!("{}.{}", key.ak, key.sk)).await.unwrap(), 401, "HG.AUTH.REVOKED_KEY", "revoked").await;
}
on_both_databases!(signed_requests_and_every_refusal, signed_requests_and_every_refusal);

async fn access_keys_in_the_console(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    create_key(&app, &acme).await;
    create_key(&app, &acme).await;
    let refused = app.refused(&acme, CreateAccessKey { description: "third".into() }).await;
    assert_eq!(refused.status, 409);
    assert!(refused.error.to_string().contains("2 active access keys"), "{refused}");

    // The page lists them, never a secret.
    let page = app.get_page("/iam/access-keys", Some(&acme)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Access Keys") && html.contains("test script"), "the page lists the keys");

    let alice = app.sign_in(ALICE).await;
    let refused = app.refused(&alice, CreateAccessKey { description: "".into() }).await;
    assert_eq!(refused.status, 403, "end users have no access keys");

    // Without a server secret key nothing can be encrypted, and the message says what to set.
    let bare = spawn_app_with(backend, Options { secret_key: None, ..Default::default() }).await;
    // (Without the key, only admins whose tenant asks no second factor may sign in.)
    bare.let_admins_in_without_factor(ACME_ADMIN.0).await;
    let cookie = bare.sign_in(ACME_ADMIN).await;
    let refused = bare.refused(&cookie, CreateAccessKey { description: "".into() }).await;
    assert_eq!(refused.status, 409);
    assert!(refused.error.to_string().contains("HOSTGUARD_SECRET_KEY"), "{refused}");
}
on_both_databases!(access_keys_in_the_console, access_keys_in_the_console);

async fn smn_topics_and_subscriptions(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &acme).await;

    let mut create = topics(&app, &key, Method::POST);
    create.body = Some(json!({ "name": "api-codes", "display_name": "API Codes" }));
    let (status, body) = answer(send(&app, &key, &create).await).await;
    assert_eq!(status, 201, "{body}");
    let urn = body["topic_urn"].as_str().unwrap().to_owned();
    assert!(urn.starts_with("urn:smn:") && urn.ends_with(&format!("{}:api-codes", key.project)), "{urn}");
    assert!(body["request_id"].is_string());

    let (_, body) = answer(send(&app, &key, &create).await).await;
    assert!(body["error_msg"].as_str().unwrap().contains("name"), "a second topic of that name: {body}");

    let mut second = topics(&app, &key, Method::POST);
    second.body = Some(json!({ "name": "api-codes-2" }));
    assert_eq!(send(&app, &key, &second).await.status(), 201, "display_name is optional");

    let mut list = topics(&app, &key, Method::GET);
    list.query = vec![("fuzzy_name", "api-codes".into()), ("limit", "1".into()), ("offset", "1".into())];
    let (status, body) = answer(send(&app, &key, &list).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["topic_count"], 2);
    assert_eq!(body["topics"].as_array().unwrap().len(), 1);
    assert_eq!(body["topics"][0]["name"], "api-codes-2");

    // Bad input names the field.
    for (field, value) in [("limit", "0"), ("limit", "101"), ("limit", "ten"), ("offset", "-1")] {
        let mut bad = topics(&app, &key, Method::GET);
        bad.query = vec![(field, value.into())];
        expect_error(send(&app, &key, &bad).await, 400, "HG.REQUEST.INVALID", field).await;
    }
    for (body, status, field) in [
        (json!({ "display_name": "x" }), 400, "name"),
        (json!({ "name": 5 }), 400, "name"),
        (json!({ "name": "bad name!" }), 422, "name"),
        (json!({ "name": "ok", "display_name": ["x"] }), 400, "display_name"),
        (json!({ "name": "ok", "display_name": "a\nb" }), 422, "display_name"),
        (json!([1]), 400, "body"),
    ] {
        let mut bad = topics(&app, &key, Method::POST);
        bad.body = Some(body);
        let res = send(&app, &key, &bad).await;
        let (got, answer) = answer(res).await;
        assert_eq!(got, status, "{answer}");
        assert!(answer["error_msg"].as_str().unwrap().starts_with(field), "{answer} names {field}");
    }

    // Subscriptions.
    let subs = |method: Method| {
        Req::new(&app, method, "v2", &key.project, vec!["notifications", "topics", &urn, "subscriptions"])
    };
    let mut add = subs(Method::POST);
    add.body = Some(json!({ "protocol": "email", "endpoint": "Ops@Acme.example", "remark": "ops" }));
    let (status, body) = answer(send(&app, &key, &add).await).await;
    assert_eq!(status, 201, "{body}");
    let sub_urn = body["subscription_urn"].as_str().unwrap().to_owned();
    assert!(sub_urn.starts_with(&format!("{urn}:")));
    for (body, status, field) in [
        (json!({ "protocol": "http", "endpoint": "http://x" }), 422, "protocol"),
        (json!({ "protocol": "sms", "endpoint": "12345" }), 422, "endpoint"),
        (json!({ "protocol": "email", "endpoint": "ops@acme.example" }), 422, "endpoint"),
        (json!({ "protocol": "email" }), 400, "endpoint"),
        (json!({ "protocol": "email", "endpoint": "a@b.example", "remark": "r".repeat(129) }), 422, "remark"),
    ] {
        let mut bad = subs(Method::POST);
        bad.body = Some(body);
        let (got, answer) = answer(send(&app, &key, &bad).await).await;
        assert_eq!(got, status, "{answer}");
        assert!(answer["error_msg"].as_str().unwrap().starts_with(field), "{answer} names {field}");
    }
    let (status, body) = answer(send(&app, &key, &subs(Method::GET)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subscription_count"], 1);
    let s = &body["subscriptions"][0];
    assert_eq!(s["subscription_urn"], sub_urn.as_str());
    assert_eq!(s["endpoint"], "ops@acme.example");
    assert_eq!(s["protocol"], "email");
    assert_eq!(s["status"], 0, "unconfirmed");
    assert_eq!(s["owner"], key.project.as_str());

    let mut all = Req::new(&app, Method::GET, "v2", &key.project, vec!["notifications", "subscriptions"]);
    all.query = vec![("status", "0".into()), ("protocol", "email".into())];
    let (_, body) = answer(send(&app, &key, &all).await).await;
    assert!(body["subscriptions"].as_array().unwrap().iter().any(|s| s["subscription_urn"] == sub_urn.as_str()));
    all.query = vec![("status", "1".into())];
    let (_, body) = answer(send(&app, &key, &all).await).await;
    assert!(!body["subscriptions"].as_array().unwrap().iter().any(|s| s["subscription_urn"] == sub_urn.as_str()));

    let cancel = Req::new(&app, Method::DELETE, "v2", &key.project, vec!["notifications", "subscriptions", &sub_urn]);
    assert_eq!(send(&app, &key, &cancel).await.status(), 200);
    expect_error(send(&app, &key, &cancel).await, 404, "HG.RESOURCE.NOT_FOUND", "subscription").await;
    let (_, body) = answer(send(&app, &key, &subs(Method::GET)).await).await;
    assert_eq!(body["subscription_count"], 0);

    let delete = Req::new(&app, Method::DELETE, "v2", &key.project, vec!["notifications", "topics", &urn]);
    assert_eq!(send(&app, &key, &delete).await.status(), 200);
    expect_error(send(&app, &key, &delete).await, 404, "HG.RESOURCE.NOT_FOUND", "topic").await;
}
on_both_databases!(smn_topics_and_subscriptions, smn_topics_and_subscriptions);

async fn another_tenants_topics_are_not_found_and_unchanged(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &acme).await;
    let globex = app.sign_in(GLOBEX_ADMIN).await;
    let globex_key = create_key(&app, &globex).await;

    let mut create = Req::new(&app, Method::POST, "v2", &globex_key.project, vec!["notifications", "topics"]);
    create.body = Some(json!({ "name": "globex-only", "display_name": "Globex" }));
    let (_, body) = answer(send(&app, &globex_key, &create).await).await;
    let urn = body["topic_urn"].as_str().unwrap().to_owned();
    let mut add =
        Req::new(&app, Method::POST, "v2", &globex_key.project, vec!["notifications", "topics", &urn, "subscriptions"]);
    add.body = Some(json!({ "protocol": "sms", "endpoint": "+8613800000000" }));
    let (_, body) = answer(send(&app, &globex_key, &add).await).await;
    let sub_urn = body["subscription_urn"].as_str().unwrap().to_owned();

    // Acme's key, Acme's project, Globex's URNs.
    let delete = Req::new(&app, Method::DELETE, "v2", &key.project, vec!["notifications", "topics", &urn]);
    expect_error(send(&app, &key, &delete).await, 404, "HG.RESOURCE.NOT_FOUND", "topic").await;
    let mut add =
        Req::new(&app, Method::POST, "v2", &key.project, vec!["notifications", "topics", &urn, "subscriptions"]);
    add.body = Some(json!({ "protocol": "email", "endpoint": "spy@acme.example" }));
    expect_error(send(&app, &key, &add).await, 404, "HG.RESOURCE.NOT_FOUND", "topic").await;
    let list = Req::new(&app, Method::GET, "v2", &key.project, vec!["notifications", "topics", &urn, "subscriptions"]);
    expect_error(send(&app, &key, &list).await, 404, "HG.RESOURCE.NOT_FOUND", "topic").await;
    let cancel = Req::new(&app, Method::DELETE, "v2", &key.project, vec!["notifications", "subscriptions", &sub_urn]);
    expect_error(send(&app, &key, &cancel).await, 404, "HG.RESOURCE.NOT_FOUND", "subscription").await;
    let all = Req::new(&app, Method::GET, "v2", &key.project, vec!["notifications", "subscriptions"]);
    let (_, body) = answer(send(&app, &key, &all).await).await;
    assert!(!body.to_string().contains(&sub_urn), "another tenant's subscriptions are not listed");

    // Globex's topic and subscription are as they were.
    let list =
        Req::new(&app, Method::GET, "v2", &globex_key.project, vec!["notifications", "topics", &urn, "subscriptions"]);
    let (status, body) = answer(send(&app, &globex_key, &list).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["subscription_count"], 1);
    assert_eq!(body["subscriptions"][0]["endpoint"], "+8613800000000");
}
on_both_databases!(
    another_tenants_topics_are_not_found_and_unchanged,
    another_tenants_topics_are_not_found_and_unchanged
);

/// The tenant's servers (id, name) that may take 2FA, and one of another tenant.
async fn servers_of(app: &TestApp, project: &str) -> Vec<domain::entities::server::Model> {
    use domain::entities::{server, tenant};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let t =
        tenant::Entity::find().filter(tenant::Column::ProjectId.eq(project)).one(&app.ctx.db).await.unwrap().unwrap();
    server::Entity::find()
        .filter(server::Column::TenantId.eq(t.id))
        .order_by_asc(server::Column::Name)
        .all(&app.ctx.db)
        .await
        .unwrap()
}

fn ready(s: &domain::entities::server::Model) -> bool {
    domain::servers::readiness(s, chrono::Utc::now(), None)
        .iter()
        .all(|f| f.severity != domain::readiness::Severity::Blocker)
}

fn hosts_req<'a>(app: &TestApp, key: &'a Key, query: Vec<(&'a str, String)>) -> Req<'a> {
    let mut r = Req::new(app, Method::GET, "v5", &key.project, vec!["setting", "two-factor-login", "hosts"]);
    r.query = query;
    r
}

fn config_req<'a>(app: &TestApp, key: &'a Key, body: Value) -> Req<'a> {
    let mut r = Req::new(app, Method::PUT, "v5", &key.project, vec!["setting", "two-factor-login", "config"]);
    r.body = Some(body);
    r
}

async fn host_row(app: &TestApp, key: &Key, name: &str) -> Value {
    let (status, body) =
        answer(send(app, key, &hosts_req(app, key, vec![("host_name", name.into()), ("limit", "200".into())])).await)
            .await;
    assert_eq!(status, 200, "{body}");
    body["data_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host_name"] == name)
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .clone()
}

async fn hss_hosts_and_config(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &acme).await;
    let servers = servers_of(&app, &key.project).await;

    // The list: 10 by default, the total, paging, search by name.
    let (status, body) = answer(send(&app, &key, &hosts_req(&app, &key, vec![])).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_num"], servers.len());
    let list = body["data_list"].as_array().unwrap();
    assert_eq!(list.len(), 10.min(servers.len()));
    let first = &list[0];
    for field in [
        "host_id",
        "host_name",
        "os_type",
        "auth_switch",
        "auth_type",
        "topic_display_name",
        "topic_urn",
        "outside_host",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert!(["Linux", "Windows"].contains(&first["os_type"].as_str().unwrap()));
    assert_eq!(first["auth_switch"], false);
    let (_, page2) =
        answer(send(&app, &key, &hosts_req(&app, &key, vec![("offset", "10".into()), ("limit", "5".into())])).await)
            .await;
    assert_eq!(page2["data_list"].as_array().unwrap().len(), 5.min(servers.len().saturating_sub(10)));
    assert_eq!(page2["data_list"][0]["host_name"], servers[10].name.as_str());
    let target = servers.iter().find(|s| ready(s) && s.os_type.as_str() == "linux").expect("a ready Linux server");
    let (_, found) =
        answer(send(&app, &key, &hosts_req(&app, &key, vec![("host_name", target.name.clone())])).await).await;
    assert!(found["data_list"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["host_name"].as_str().unwrap().contains(&target.name)));
    for (field, value) in [("limit", "0"), ("limit", "201"), ("limit", "many"), ("offset", "-3")] {
        expect_error(
            send(&app, &key, &hosts_req(&app, &key, vec![(field, value.into())])).await,
            400,
            "HG.REQUEST.INVALID",
            field,
        )
        .await;
    }

    // Enable with verification codes.
    let id = target.id.to_string();
    let (status, body) = answer(
        send(
            &app,
            &key,
            &config_req(&app, &key, json!({ "enabled": true, "auth_type": "code", "host_id_list": [id] })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["saved"][0]["host_id"], id.as_str());
    let row = host_row(&app, &key, &target.name).await;
    assert_eq!(
        (row["auth_switch"].as_bool(), row["auth_type"].as_str()),
        (Some(true), Some("code")),
        "the switch as saved, before the agent has it"
    );
    agent_reports(&app, &id, Ok(())).await;
    let row = host_row(&app, &key, &target.name).await;
    assert_eq!(row["auth_switch"], true);
    assert_eq!(row["auth_type"], "code");

    // SMS needs a topic with a confirmed subscription.
    let urn = sms_topic(&app, &key, "sms-codes", "Acme Codes", "+8613800000001").await;
    let sms = json!({ "enabled": true, "auth_type": "sms", "topic_urn": urn, "topic_display_name": "Acme Codes", "host_id_list": [id] });
    let (status, body) = answer(send(&app, &key, &config_req(&app, &key, sms.clone())).await).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error_msg"].as_str().unwrap().starts_with("topic_urn"), "{body}");
    assert!(body["error_msg"].as_str().unwrap().contains("no confirmed subscription"), "{body}");
    confirm_all(&app).await;
    let (status, body) = answer(send(&app, &key, &config_req(&app, &key, sms)).await).await;
    assert_eq!(status, 200, "{body}");
    agent_reports(&app, &id, Ok(())).await;
    let row = host_row(&app, &key, &target.name).await;
    assert_eq!((row["auth_type"].as_str(), row["topic_urn"].as_str()), (Some("sms"), Some(urn.as_str())));
    assert_eq!(row["topic_display_name"], "Acme Codes");

    // Bad input names the field, and changes nothing.
    let globex = app.sign_in(GLOBEX_ADMIN).await;
    let globex_key = create_key(&app, &globex).await;
    let globex_server = servers_of(&app, &globex_key.project).await.into_iter().find(ready).unwrap();
    let mut create = Req::new(&app, Method::POST, "v2", &globex_key.project, vec!["notifications", "topics"]);
    create.body = Some(json!({ "name": "globex-codes" }));
    let (_, body) = answer(send(&app, &globex_key, &create).await).await;
    let globex_urn = body["topic_urn"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::new_v4().to_string();
    for (body, status, field) in [
        (json!({ "auth_type": "code", "host_id_list": [id] }), 400, "enabled"),
        (json!({ "enabled": "yes", "auth_type": "code", "host_id_list": [id] }), 400, "enabled"),
        (json!({ "enabled": true, "auth_type": "voice", "host_id_list": [id] }), 422, "auth_type"),
        (json!({ "enabled": true, "host_id_list": [id] }), 400, "auth_type"),
        (json!({ "enabled": true, "auth_type": "code", "host_id_list": [] }), 422, "host_id_list"),
        (json!({ "enabled": true, "auth_type": "code" }), 400, "host_id_list"),
        (json!({ "enabled": true, "auth_type": "code", "host_id_list": id }), 400, "host_id_list"),
        (json!({ "enabled": true, "auth_type": "code", "host_id_list": [7] }), 400, "host_id_list[0]"),
        (json!({ "enabled": true, "auth_type": "code", "host_id_list": ["web-01"] }), 422, "host_id_list"),
        (json!({ "enabled": true, "auth_type": "code", "host_id_list": [id, unknown] }), 422, "host_id_list"),
        (json!({ "enabled": false, "host_id_list": [id, globex_server.id.to_string()] }), 422, "host_id_list"),
        (json!({ "enabled": true, "auth_type": "sms", "host_id_list": [id] }), 400, "topic_urn"),
        (json!({ "enabled": true, "auth_type": "sms", "topic_urn": 5, "host_id_list": [id] }), 400, "topic_urn"),
        (
            json!({ "enabled": true, "auth_type": "sms", "topic_urn": "urn:smn:x:y:z", "host_id_list": [id] }),
            404,
            "topic",
        ),
        (json!({ "enabled": true, "auth_type": "sms", "topic_urn": globex_urn, "host_id_list": [id] }), 404, "topic"),
    ] {
        let (got, answer) = answer(send(&app, &key, &config_req(&app, &key, body.clone())).await).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert!(answer["error_msg"].as_str().unwrap().starts_with(field), "{body} → {answer} names {field}");
    }
    let row = host_row(&app, &key, &target.name).await;
    assert_eq!(
        (row["auth_switch"].as_bool(), row["topic_urn"].as_str()),
        (Some(true), Some(urn.as_str())),
        "unchanged"
    );
    let globex_row = host_row(&app, &globex_key, &globex_server.name).await;
    assert_eq!(globex_row["auth_switch"], false, "another tenant's server is untouched");

    // Disable.
    let (status, body) =
        answer(send(&app, &key, &config_req(&app, &key, json!({ "enabled": false, "host_id_list": [id] }))).await)
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(host_row(&app, &key, &target.name).await["auth_switch"], false, "switched off as saved");
    agent_reports(&app, &id, Ok(())).await;
    assert_eq!(host_row(&app, &key, &target.name).await["auth_switch"], false);
}
on_both_databases!(hss_hosts_and_config, hss_hosts_and_config);

/// A new topic with one (unconfirmed) SMS subscription; its URN.
async fn sms_topic(app: &TestApp, key: &Key, name: &str, display_name: &str, phone: &str) -> String {
    let mut create = topics(app, key, Method::POST);
    create.body = Some(json!({ "name": name, "display_name": display_name }));
    let (_, body) = answer(send(app, key, &create).await).await;
    let urn = body["topic_urn"].as_str().unwrap().to_owned();
    let mut add =
        Req::new(app, Method::POST, "v2", &key.project, vec!["notifications", "topics", &urn, "subscriptions"]);
    add.body = Some(json!({ "protocol": "sms", "endpoint": phone }));
    assert_eq!(send(app, key, &add).await.status(), 201);
    urn
}

/// The host's agent reports on its newest revision: applied (`Ok`) or failed with a reason.
/// These hosts have no agent, so the report is written as the agent API's ack would leave it.
async fn agent_reports(app: &TestApp, host_id: &str, outcome: Result<(), &str>) {
    use domain::{
        entities::two_factor_config,
        rollout::{FailureKind, Phase},
    };
    use sea_orm::EntityTrait;
    let id = uuid::Uuid::parse_str(host_id).unwrap();
    let c = two_factor_config::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().expect("a saved change");
    let mut r = domain::two_factor::rollout_of(&c);
    let now = chrono::Utc::now();
    let latest = r.latest.as_mut().expect("a revision");
    match outcome {
        Ok(()) => {
            latest.phase = Phase::Applied { at: now };
            r.applied = Some((latest.number, latest.target.clone()));
        }
        Err(reason) => latest.phase = Phase::Failed { at: now, kind: FailureKind::AgentError, reason: reason.into() },
    }
    domain::two_factor::store(&app.ctx.db, id, c.tenant_id, &r, now).await.unwrap();
}

/// The console's 2FA row and the HSS API's host agree on what is in force: what the agent
/// last acknowledged. A change on its way shows in the console as pending only.
async fn console_row_and_hss_api_agree_on_two_factor_in_force(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &acme).await;
    let servers: Vec<_> = servers_of(&app, &key.project).await.into_iter().filter(ready).take(2).collect();
    let (a, b) = (&servers[0], &servers[1]);
    let console_row = |name: String| {
        let (app, acme) = (&app, &acme);
        async move { app.two_factor_row(acme, &name).await }
    };
    let method = |m: Option<TwoFactorMethod>| m.map(|m| m.as_str());
    // (switch, method, topic) as each surface reports it: the console's "in force", and HSS's
    // switch as configured (which equals what is in force once nothing is on its way).
    let agree = |row: TwoFactorRow, host: Value, expected: (bool, Option<&str>, Option<&str>), case: &str| {
        let in_force = &row.in_force;
        let console = (in_force.on, method(in_force.method), in_force.topic.as_deref());
        let hss =
            (host["auth_switch"].as_bool().unwrap(), host["auth_type"].as_str(), host["topic_display_name"].as_str());
        assert_eq!(console, expected, "console, {case}: {row:?}");
        assert_eq!(hss, expected, "HSS API, {case}: {host}");
    };
    let save = |body: Value| {
        let (app, key) = (&app, &key);
        async move {
            let (status, body) = answer(send(app, key, &config_req(app, key, body)).await).await;
            assert_eq!(status, 200, "{body}");
        }
    };

    // While Enabling: nothing in force yet; the console shows the method on its way, and HSS
    // the switch as saved, as Huawei's API does.
    let id = a.id.to_string();
    save(json!({ "enabled": true, "auth_type": "code", "host_id_list": [id] })).await;
    let row = console_row(a.name.clone()).await;
    assert_eq!((row.status.state(), method(row.method)), (TwoFactorState::Enabling, Some("code")), "{row:?}");
    assert!(!row.in_force.on, "{row:?}");
    let host = host_row(&app, &key, &a.name).await;
    assert_eq!((host["auth_switch"].as_bool(), host["auth_type"].as_str()), (Some(true), Some("code")), "{host}");

    // After a canceled Disable: the agent still has 2FA on.
    agent_reports(&app, &id, Ok(())).await;
    save(json!({ "enabled": false, "host_id_list": [id] })).await;
    app.run(&acme, CancelTwoFactor { server_ids: vec![a.id] }).await;
    let row = console_row(a.name.clone()).await;
    assert_eq!(row.status.state(), TwoFactorState::Enabled, "{row:?}");
    agree(row, host_row(&app, &key, &a.name).await, (true, Some("code"), None), "after a canceled disable");

    // A failed first enable: nothing is in force, so neither shows a method or topic.
    let urn = sms_topic(&app, &key, "agree-codes", "Agree Codes", "+8613800000002").await;
    confirm_all(&app).await;
    let id = b.id.to_string();
    save(json!({ "enabled": true, "auth_type": "sms", "topic_urn": urn, "host_id_list": [id] })).await;
    agent_reports(&app, &id, Err("sshd -t failed")).await;
    let row = console_row(b.name.clone()).await;
    assert_eq!(
        (row.status.state(), method(row.method), row.topic.as_deref()),
        (TwoFactorState::Failed, None, None),
        "{row:?}"
    );
    agree(row, host_row(&app, &key, &b.name).await, (false, None, None), "a failed first enable");

    // Once applied, both name the topic.
    save(json!({ "enabled": true, "auth_type": "sms", "topic_urn": urn, "host_id_list": [id] })).await;
    agent_reports(&app, &id, Ok(())).await;
    agree(
        console_row(b.name.clone()).await,
        host_row(&app, &key, &b.name).await,
        (true, Some("sms"), Some("Agree Codes")),
        "applied",
    );

    // A failed change of an enabled server: the old setting stays in force, on both surfaces,
    // and the console's row shows the failure as the status with the method in force.
    save(json!({ "enabled": true, "auth_type": "code", "host_id_list": [id] })).await;
    agent_reports(&app, &id, Err("sshd -t failed")).await;
    let row = console_row(b.name.clone()).await;
    assert_eq!(
        (row.status.state(), method(row.method), row.topic.as_deref()),
        (TwoFactorState::Failed, Some("sms"), Some("Agree Codes")),
        "{row:?}"
    );
    agree(row, host_row(&app, &key, &b.name).await, (true, Some("sms"), Some("Agree Codes")), "a failed change");
}
on_both_databases!(
    console_row_and_hss_api_agree_on_two_factor_in_force,
    console_row_and_hss_api_agree_on_two_factor_in_force
);

/// Marks every subscription confirmed, as if each endpoint had followed its link.
async fn confirm_all(app: &TestApp) {
    use domain::entities::subscription;
    use sea_orm::{sea_query::Expr, EntityTrait};
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value("confirmed"))
        .exec(&app.ctx.db)
        .await
        .unwrap();
}

async fn malformed_paths_answer_in_the_apis_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &admin).await;
    // `%FF` is not UTF-8 once decoded: the path extractor refuses it, in the API's JSON shape.
    let url = app.url(&format!("/v2/{}/notifications/topics/%FF", key.project));
    let res =
        app.http.delete(url).header("authorization", format!("Bearer {}.{}", key.ak, key.sk)).send().await.unwrap();
    let (status, body) = answer(res).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_code"], "HG.REQUEST.INVALID", "{body}");
    assert!(body["error_msg"].as_str().unwrap().starts_with("path:"), "{body}");
}
on_both_databases!(malformed_paths_answer_in_the_apis_error_shape, malformed_paths_answer_in_the_apis_error_shape);

/// Setting a host's switch to what it already is succeeds, as in HSS, and changes nothing:
/// the answer lists the host as unchanged with the reason, and no revision is made that an
/// absent agent could fail. A batch mixing such hosts with real changes saves the others.
async fn setting_the_switch_to_what_it_is_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let key = create_key(&app, &acme).await;
    let servers: Vec<_> = servers_of(&app, &key.project).await.into_iter().filter(ready).take(2).collect();
    let (a, b) = (servers[0].id.to_string(), servers[1].id.to_string());
    let configs = || async {
        use sea_orm::{EntityTrait, PaginatorTrait};
        domain::entities::two_factor_config::Entity::find().count(&app.ctx.db).await.unwrap()
    };

    let (status, body) =
        answer(send(&app, &key, &config_req(&app, &key, json!({ "enabled": false, "host_id_list": [a] }))).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["saved"], json!([]), "{body}");
    assert_eq!(body["unchanged"][0]["host_id"], a.as_str(), "{body}");
    assert!(body["unchanged"][0]["reason"].as_str().unwrap().contains("already has 2FA off"), "{body}");
    assert_eq!(body["apply_at"], Value::Null, "nothing to apply: {body}");
    assert_eq!(configs().await, 0, "no revision");
    assert_eq!(host_row(&app, &key, &servers[0].name).await["auth_switch"], false);

    // Enable both; once a has it, enabling both again saves nothing; b's is still on its way.
    let enable = json!({ "enabled": true, "auth_type": "code", "host_id_list": [a] });
    let (status, _) = answer(send(&app, &key, &config_req(&app, &key, enable)).await).await;
    assert_eq!(status, 200);
    agent_reports(&app, &a, Ok(())).await;
    let both = json!({ "enabled": true, "auth_type": "code", "host_id_list": [a, b] });
    let (status, body) = answer(send(&app, &key, &config_req(&app, &key, both.clone())).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["saved"][0]["host_id"], b.as_str(), "{body}");
    assert_eq!(body["unchanged"][0]["host_id"], a.as_str(), "{body}");
    let (status, body) = answer(send(&app, &key, &config_req(&app, &key, both)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["saved"], json!([]), "{body}");
    assert_eq!(body["unchanged"].as_array().unwrap().len(), 2, "{body}");
    for s in &servers {
        let row = host_row(&app, &key, &s.name).await;
        assert_eq!((row["auth_switch"].as_bool(), row["auth_type"].as_str()), (Some(true), Some("code")), "{row}");
    }
}
on_both_databases!(setting_the_switch_to_what_it_is_changes_nothing, setting_the_switch_to_what_it_is_changes_nothing);
