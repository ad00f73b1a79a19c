//! The agent API's contract (issue 18): what its OpenAPI document says is what the console does.
//! `scripts/contract.sh` runs schemathesis against the document; these pin what it found: every
//! refusal of a body is listed, the text rules the console checks are in the document (and agree
//! with the checks on samples), an out-of-range `wait` is refused naming it, a whole number
//! spelled `2.0` is read as one, and a revision near `i64::MAX` is refused rather than overflowing.

use crate::common::*;
use sea_orm::EntityTrait;
use serde_json::{json, Value};

async fn setup(backend: Backend) -> (TestApp, FakeAgent) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let token = app.install_token(&admin).await;
    let agent = app.register_agent(&token, &debian_facts("contract-01")).await;
    (app, agent)
}

/// Calls the agent API as `agent` (a JSON body when `body` is given): the status and the body.
async fn call(app: &TestApp, agent: &FakeAgent, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.http.request(method, app.url(path)).bearer_auth(&agent.credential);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A refusal's message, which names the field.
fn message(body: &Value) -> &str {
    body["error_msg"].as_str().unwrap_or_default()
}

async fn document(app: &TestApp) -> Value {
    app.http.get(app.url(proto::agent::paths::OPENAPI)).send().await.unwrap().json().await.unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

async fn the_document_says_what_the_console_checks(backend: Backend) {
    let (app, _) = setup(backend).await;
    let doc = document(&app).await;

    // Every call with a body lists the answers its body can get before the handler runs.
    let mut with_body = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            with_body += 1;
            for status in ["400", "413", "415", "422"] {
                assert_eq!(
                    op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ApiError",
                    "{method} {path} {status}"
                );
            }
        }
    }
    assert_eq!(with_body, 7, "register, facts, heartbeat, ack, logins, answer, offline");

    // The long poll's parameters are in the query, optional, and `wait` says its range.
    let config = &doc["paths"][proto::agent::paths::CONFIG]["get"];
    let params = config["parameters"].as_array().unwrap();
    let wait = params.iter().find(|p| p["name"] == "wait").unwrap();
    assert_eq!((&wait["in"], &wait["required"]), (&json!("query"), &json!(false)), "{wait}");
    assert_eq!((&wait["schema"]["minimum"], &wait["schema"]["maximum"]), (&json!(0), &json!(30)));
    assert_eq!(params.iter().find(|p| p["name"] == "after").unwrap()["in"], "query");
    for status in ["400", "422"] {
        assert!(config["responses"].get(status).is_some(), "config {status}");
    }

    // The rules of the facts, as long as the console's.
    use domain::agents::limits;
    let facts = &schema(&doc, "Facts")["properties"];
    assert!(facts["hostname"]["pattern"].as_str().unwrap().contains("[A-Za-z0-9._-]{1,64}"));
    assert_eq!(limits::HOSTNAME, 64);
    assert_eq!(facts["os_type"]["$ref"], "#/components/schemas/OsType");
    assert_eq!(schema(&doc, "OsType")["enum"], json!(["linux", "windows"]));
    assert_eq!(facts["ips"]["maxItems"], limits::IPS);
    assert_eq!(facts["os_name"]["maxLength"], limits::OS_NAME);
    assert_eq!(facts["agent_version"]["maxLength"], limits::AGENT_VERSION);
    assert_eq!(facts["conflicting_software"]["maxItems"], limits::SOFTWARE);
    assert_eq!(facts["conflicting_software"]["items"]["maxLength"], limits::SOFTWARE_NAME);
    assert_eq!(facts["must_change_password_accounts"]["maxItems"], limits::ACCOUNTS);
    assert_eq!(facts["must_change_password_accounts"]["items"]["maxLength"], limits::ACCOUNT_NAME);
    assert_eq!(facts["sshd_match_overrides"]["maxItems"], limits::MATCH_OVERRIDES);
    assert_eq!(schema(&doc, "SshdMatchOverride")["properties"]["file"]["maxLength"], limits::MATCH_TEXT);
    assert_eq!(schema(&doc, "RegisterRequest")["properties"]["install_token"]["maxLength"], limits::INSTALL_TOKEN);
    assert_eq!(schema(&doc, "AckRequest")["properties"]["error"]["maxLength"], limits::ACK_ERROR);
    assert_eq!(schema(&doc, "HeartbeatRequest")["properties"]["agent_version"]["maxLength"], limits::AGENT_VERSION);
    let revision = &schema(&doc, "HeartbeatRequest")["properties"]["applied_revision"];
    assert_eq!((&revision["minimum"], &revision["maximum"]), (&json!(0), &json!(domain::rollout::MAX_REVISION)));

    // A login's PAM items, and the offline report, as long as the console's.
    use domain::logins::limits as login;
    let start = &schema(&doc, "LoginStart")["properties"];
    for (field, max, min) in [
        ("account", login::ACCOUNT, Some(1)),
        ("service", login::SERVICE, Some(1)),
        ("source_ip", login::SOURCE_IP, None),
        ("tty", login::TTY, None),
    ] {
        assert_eq!(start[field]["maxLength"], max, "{field}");
        assert_eq!(start[field]["minLength"].as_u64(), min, "{field}");
        assert!(start[field]["pattern"].is_string(), "{field}");
    }
    assert_eq!(schema(&doc, "LoginAnswer")["properties"]["answer"]["maxLength"], login::ANSWER);
    let offline = &schema(&doc, "OfflineReport")["properties"]["logins"];
    assert_eq!(offline["maxItems"], domain::logins::settings::MAX_OFFLINE_REPORT);
    assert_eq!(schema(&doc, "OfflineLogin")["properties"]["account"], start["account"]);

    // Enumerations in the spelling on the wire (`secure`, not `Secure`).
    assert_eq!(schema(&doc, "FailMode")["enum"], json!(["secure", "safe"]));
    assert_eq!(schema(&doc, "SelinuxMode")["enum"], json!(["enforcing", "permissive", "disabled"]));
    assert_eq!(schema(&doc, "LoginResult")["enum"], json!(["allowed", "denied"]));
}
on_both_databases!(the_document_says_what_the_console_checks, super::the_document_says_what_the_console_checks);

/// Whether `value` is valid by the document's schema for a string (its pattern and lengths).
fn documented(rule: &Value, value: &str) -> bool {
    let chars = value.chars().count() as u64;
    let pattern = regex::Regex::new(rule["pattern"].as_str().unwrap()).unwrap();
    pattern.is_match(value)
        && rule["minLength"].as_u64().is_none_or(|min| chars >= min)
        && rule["maxLength"].as_u64().is_none_or(|max| chars <= max)
}

async fn the_documented_rules_and_the_checks_agree(backend: Backend) {
    let (app, agent) = setup(backend).await;
    let doc = document(&app).await;

    // Hostnames: the document's pattern, then the console's check through a facts report.
    let rule = &schema(&doc, "Facts")["properties"]["hostname"];
    let long = "h".repeat(64);
    let too_long = "h".repeat(65);
    for name in [
        "web-01",
        "a",
        " web-01\t",
        long.as_str(),
        "",
        " ",
        too_long.as_str(),
        "web 01",
        "wéb",
        "web,01",
        "web\u{feff}",
    ] {
        let mut facts = serde_json::to_value(debian_facts("x")).unwrap();
        facts["hostname"] = json!(name);
        let (status, body) = call(&app, &agent, "PUT", proto::agent::paths::FACTS, Some(facts)).await;
        let documented = documented(rule, name);
        assert_eq!(status == 204, documented, "hostname {name:?}: {status} {body}");
        if !documented {
            assert!(message(&body).starts_with("hostname:"), "{body}");
        }
    }

    // `os_type`: only the enumeration's values.
    for (os_type, ok) in [("linux", true), ("windows", true), ("Linux", false), ("", false), ("bsd", false)] {
        let mut facts = serde_json::to_value(debian_facts("contract-01")).unwrap();
        facts["os_type"] = json!(os_type);
        let (status, body) = call(&app, &agent, "PUT", proto::agent::paths::FACTS, Some(facts)).await;
        assert_eq!(status == 204, ok, "os_type {os_type:?}: {status} {body}");
        if !ok {
            assert!(message(&body).starts_with("os_type:"), "{body}");
        }
    }

    // A login's account: the document's rule, then the console's check as a login starts.
    let rule = &schema(&doc, "LoginStart")["properties"]["account"];
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    for account in [
        "root",
        "DOMAIN\\joe",
        " root ",
        "jöe",
        long.as_str(),
        "",
        " ",
        "\u{3000}",
        "ro\not",
        "root\u{85}",
        "\t",
        too_long.as_str(),
    ] {
        let start = json!({"account": account, "source_ip": "192.0.2.1", "service": "sshd"});
        let (status, body) = call(&app, &agent, "POST", proto::agent::paths::LOGINS, Some(start)).await;
        let documented = documented(rule, account);
        assert_eq!(status == 200, documented, "account {account:?}: {status} {body}");
        if !documented {
            assert_eq!(status, 422, "{body}");
            assert!(message(&body).starts_with("account:"), "{body}");
        }
    }
}
on_both_databases!(the_documented_rules_and_the_checks_agree, super::the_documented_rules_and_the_checks_agree);

async fn a_wait_out_of_its_range_is_refused_naming_it(backend: Backend) {
    let (app, agent) = setup(backend).await;
    let config = proto::agent::paths::CONFIG;
    let (status, body) = call(&app, &agent, "GET", &format!("{config}?after=0&wait=31"), None).await;
    assert_eq!((status, message(&body)), (422, "wait: must be 0 to 30"));
    for wait in ["-1", "abc", "18446744073709551616"] {
        let (status, body) = call(&app, &agent, "GET", &format!("{config}?wait={wait}"), None).await;
        assert_eq!(status, 400, "{wait}: {body}");
        assert_eq!(body["error_code"], "AGENT.0400");
        assert!(message(&body).contains("wait"), "{body}");
    }
    // Both are optional; in range, nothing newer answers 204.
    assert_eq!(call(&app, &agent, "GET", config, None).await.0, 204);
    assert_eq!(call(&app, &agent, "GET", &format!("{config}?wait=0"), None).await.0, 204);
}
on_both_databases!(a_wait_out_of_its_range_is_refused_naming_it, super::a_wait_out_of_its_range_is_refused_naming_it);

async fn a_whole_number_spelled_as_a_float_is_read_as_the_integer(backend: Backend) {
    let (app, agent) = setup(backend).await;
    let heartbeat = proto::agent::paths::HEARTBEAT;
    let (status, body) =
        call(&app, &agent, "POST", heartbeat, Some(json!({"agent_version": "0.1.0", "applied_revision": 0.0}))).await;
    assert_eq!(status, 204, "{body}");

    let mut facts = serde_json::to_value(debian_facts("contract-01")).unwrap();
    facts["sshd_match_overrides_more"] = json!(3.0);
    facts["pam_stack"] =
        json!({"problems": [{"file": "/etc/pam.d/sshd", "line": 2e0, "problem": "p", "fix": "f"}], "more": 1.0});
    let (status, body) = call(&app, &agent, "PUT", proto::agent::paths::FACTS, Some(facts)).await;
    assert_eq!(status, 204, "{body}");
    let row = domain::entities::server::Entity::find_by_id(agent.server_id).one(&app.ctx.db).await.unwrap().unwrap();
    assert_eq!(row.sshd_match_overrides_more, 3);
    let stack: proto::agent::PamStackCheck = serde_json::from_str(row.pam_stack.as_deref().unwrap()).unwrap();
    assert_eq!((stack.problems[0].line, stack.more), (2, 1));

    // A fraction is not an integer: refused, naming the field.
    let (status, body) =
        call(&app, &agent, "POST", heartbeat, Some(json!({"agent_version": "0.1.0", "applied_revision": 0.5}))).await;
    assert_eq!((status, body["error_code"].as_str()), (422, Some("AGENT.0422")), "{body}");
    assert!(message(&body).contains("applied_revision"), "{body}");
    // So is a whole float out of the field's range.
    let mut facts = serde_json::to_value(debian_facts("contract-01")).unwrap();
    facts["sshd_match_overrides_more"] = json!(-1.0);
    let (status, body) = call(&app, &agent, "PUT", proto::agent::paths::FACTS, Some(facts)).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("sshd_match_overrides_more"), "{body}");
}
on_both_databases!(
    a_whole_number_spelled_as_a_float_is_read_as_the_integer,
    super::a_whole_number_spelled_as_a_float_is_read_as_the_integer
);

async fn an_applied_revision_past_the_range_is_refused_not_overflowed(backend: Backend) {
    let (app, agent) = setup(backend).await;
    let heartbeat = |revision: i64| {
        let (app, agent) = (&app, &agent);
        async move {
            let body = json!({"agent_version": "0.1.0", "applied_revision": revision});
            call(app, agent, "POST", proto::agent::paths::HEARTBEAT, Some(body)).await
        }
    };
    // The console reissued i64::MAX for the first, and overflowed past it on the second.
    for _ in 0..2 {
        let (status, body) = heartbeat(i64::MAX).await;
        assert_eq!((status, message(&body)), (422, "applied_revision: must be 0 to 9007199254740991"), "{body}");
    }
    assert_eq!(heartbeat(-1).await.0, 422);
    // The highest is taken, twice: the revision reissued past it still fits.
    for _ in 0..2 {
        let (status, body) = heartbeat(domain::rollout::MAX_REVISION).await;
        assert_eq!(status, 204, "{body}");
    }
}
on_both_databases!(
    an_applied_revision_past_the_range_is_refused_not_overflowed,
    super::an_applied_revision_past_the_range_is_refused_not_overflowed
);

async fn an_acknowledgements_error_is_limited_in_characters_whatever_ok_says(backend: Backend) {
    let (app, agent) = setup(backend).await;
    let ack = proto::agent::paths::ACK;
    let max = domain::agents::limits::ACK_ERROR;
    let (status, body) =
        call(&app, &agent, "POST", ack, Some(json!({"revision": 1, "ok": true, "error": "x".repeat(max + 1)}))).await;
    assert_eq!((status, message(&body)), (422, "error: must be at most 4000 characters"), "{body}");
    // Characters, not bytes: 4,000 two-byte characters are within it.
    let (status, body) =
        call(&app, &agent, "POST", ack, Some(json!({"revision": 1, "ok": false, "error": "é".repeat(max)}))).await;
    assert_eq!((status, &body), (200, &json!({"accepted": false})));
}
on_both_databases!(
    an_acknowledgements_error_is_limited_in_characters_whatever_ok_says,
    super::an_acknowledgements_error_is_limited_in_characters_whatever_ok_says
);
