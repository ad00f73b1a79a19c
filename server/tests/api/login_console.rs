//! The console's login pages through their server functions: the login audit, a server's login
//! protection (fail mode, exemptions, unenrolled accounts) and its break-glass codes.

use crate::common::*;
use app::functions::audit::ListAudit;
use app::functions::logins::{BreakGlass, IssueBreakGlass, ListLogins, LoginServers, LoginSettings, SaveLoginSettings};
use app::functions::servers::GetServer;
use app::models::{
    utc, AppError, AuditRow, FailMode, LoginAuditPage, LoginAuditQuery, LoginOutcome, LoginSettingsView,
};
use domain::Clock;
use proto::audit::AuditAction;
use proto::login::LoginReason;

struct World {
    app: TestApp,
    acme: Protected,
    globex: Protected,
    /// A second admin of Acme, whose password the test knows.
    admin: String,
    alice: String,
    operator: String,
}

/// Two tenants with a server each in verification-code mode, and a login on each: root is
/// refused on both (no enrolled user), and Globex also has an allowed one.
async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.protected_server("Acme Logins", "acme-web-01", &[]).await;
    let globex = app.protected_server("Globex Logins", "globex-web-01", &[]).await;
    app.put_in_force(&acme, Some("code")).await;
    app.put_in_force(&globex, Some("code")).await;
    app.start_ok(&acme, "root", "198.51.100.7").await;
    app.start_ok(&globex, "root", "203.0.113.9").await;
    // The console's clock stands still in tests: each event gets its own minute, so "newest
    // first" has one answer.
    app.clock.advance(chrono::Duration::minutes(1));
    app.put_in_force(&globex, None).await;
    app.start_ok(&globex, "globex-secret-account", "203.0.113.9").await;
    let admin = acme.tenant.admin(&app, "admin2").await;
    let alice = acme.tenant.end_user(&app, "alice").await;
    let operator = app.create_operator("ops").await;
    let (admin, alice, operator) = (app.sign_in(&admin).await, app.sign_in(&alice).await, app.sign_in(&operator).await);
    World { app, acme, globex, admin, alice, operator }
}

async fn audit(app: &TestApp, cookie: &str, given: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(String, &str)> = vec![("query[page]".into(), "1"), ("query[page_size]".into(), "20")];
    for (k, v) in given {
        let key = format!("query[{k}]");
        form.retain(|(have, _)| *have != key);
        form.push((key, v));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    app.call("logins/list", &form, Some(cookie)).await
}

async fn audit_ok(app: &TestApp, cookie: &str, given: &[(&str, &str)]) -> LoginAuditPage {
    let res = audit(app, cookie, given).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "logins/list {given:?}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// A save of the server's login protection with `fail_mode`, nothing exempt and the
/// unenrolled-accounts box unticked (absent from the form, as a browser sends it).
fn settings(server_id: &str, fail_mode: &str) -> SaveLoginSettings {
    SaveLoginSettings {
        server_id: server_id.into(),
        fail_mode: fail_mode.into(),
        allow_unenrolled: None,
        exempt_accounts: String::new(),
        exempt_networks: String::new(),
    }
}

async fn save(app: &TestApp, cookie: &str, args: SaveLoginSettings) -> Result<LoginSettingsView, Refused> {
    app.try_run(cookie, args).await
}

fn get_settings(server_id: &str) -> LoginSettings {
    LoginSettings { server_id: server_id.into() }
}

/// The `(field, message)` pairs of a refusal: several, or the one.
fn field_errors(refused: &Refused) -> Vec<(String, String)> {
    match &refused.error {
        AppError::Invalid(errors) => errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect(),
        AppError::Validation { field, message } => vec![(field.clone(), message.clone())],
        other => panic!("field errors in {other:?}"),
    }
}

/// Whether a refusal names `field` with a message containing `text`.
fn names(refused: &Refused, field: &str, text: &str) -> bool {
    field_errors(refused).iter().any(|(f, m)| f == field && m.contains(text))
}

async fn the_login_audit_shows_the_tenants_own_logins_filtered(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let all = audit_ok(app, &w.admin, &[]).await;
    assert_eq!(all.total, 1, "{:?}", all.items);
    let root = &all.items[0];
    assert_eq!((root.server_name.as_str(), root.account.as_str()), ("acme-web-01", "root"));
    assert_eq!((root.result.as_str(), root.source_ip.as_str()), ("denied", "198.51.100.7"));
    assert_eq!(root.reason, "account not linked to a HostGuard user");

    // An exemption saved on the server's page lets backup in, and the audit says why.
    let acme_id = w.acme.server_id.to_string();
    let backup = SaveLoginSettings { exempt_accounts: "backup\n".into(), ..settings(&acme_id, "secure") };
    save(app, &w.admin, backup).await.unwrap();
    app.clock.advance(chrono::Duration::minutes(1));
    app.start_ok(&w.acme, "backup", "198.51.100.8").await;
    let all = audit_ok(app, &w.admin, &[]).await;
    let seen: Vec<_> = all.items.iter().map(|r| (r.account.as_str(), r.result.as_str(), r.reason.as_str())).collect();
    assert_eq!(
        seen,
        [("backup", "allowed", "exempt account backup"), ("root", "denied", "account not linked to a HostGuard user")],
        "newest first"
    );

    let denied = audit_ok(app, &w.admin, &[("result", "denied")]).await;
    assert_eq!(denied.items.iter().map(|r| r.account.as_str()).collect::<Vec<_>>(), ["root"]);
    let backup = audit_ok(app, &w.admin, &[("account", "backup"), ("server", &acme_id)]).await;
    assert_eq!(backup.total, 1);
    let future = audit_ok(app, &w.admin, &[("since", "2999-01-01T00:00")]).await;
    assert_eq!(future.total, 0);
    // Dates alone cover whole days: from the first login's day (its start) to today (its end)
    // holds both logins, also when the test runs across midnight.
    let first_day = all.items.last().unwrap().time.format("%Y-%m-%d").to_string();
    let today = app.clock.now().format("%Y-%m-%d").to_string();
    assert_eq!(
        audit_ok(app, &w.admin, &[("since", &first_day), ("until", &today)]).await.total,
        2,
        "whole days cover all of it"
    );

    // Another tenant's server filters to nothing of theirs, and their logins never show.
    let globex_id = w.globex.server_id.to_string();
    assert_eq!(audit_ok(app, &w.admin, &[("server", &globex_id)]).await.total, 0);
    let body = audit(app, &w.admin, &[("account", "globex-secret-account")]).await.text().await.unwrap();
    assert!(!body.contains("globex"), "{body}");

    // The server filter offers the tenant's own servers only.
    let servers = app.run(&w.admin, LoginServers {}).await;
    let offered: Vec<_> = servers.iter().map(|s| (s.id.to_string(), s.name.as_str())).collect();
    assert_eq!(offered, [(acme_id.clone(), "acme-web-01")]);

    // The server's page: the last logins of that server only.
    let recent = audit_ok(app, &w.admin, &[("server", &acme_id), ("page_size", "10")]).await;
    assert_eq!(recent.total, 2);
}
on_both_databases!(
    the_login_audit_shows_the_tenants_own_logins_filtered,
    super::the_login_audit_shows_the_tenants_own_logins_filtered
);

async fn another_tenants_server_is_not_found_and_other_roles_are_refused(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let globex_id = w.globex.server_id.to_string();
    let acme_id = w.acme.server_id.to_string();
    // Every call about a server: its settings, its break-glass codes, issuing new ones.
    let refusals = |cookie: String, server_id: String| async move {
        let id = || server_id.clone();
        [
            ("logins/settings", app.refused(&cookie, LoginSettings { server_id: id() }).await),
            ("logins/break_glass", app.refused(&cookie, BreakGlass { server_id: id() }).await),
            ("logins/break_glass/issue", app.refused(&cookie, IssueBreakGlass { server_id: id() }).await),
        ]
    };
    for (endpoint, refused) in refusals(w.admin.clone(), globex_id.clone()).await {
        assert_eq!(refused.status, 404, "{endpoint}");
        assert!(!format!("{refused:?}").contains("globex"));
    }
    assert_eq!(save(app, &w.admin, settings(&globex_id, "safe")).await.unwrap_err().status, 404);
    assert_eq!(app.refused(&w.admin, get_settings("not-an-id")).await.status, 404);
    // Nothing of Globex changed.
    let theirs = app.run(&w.globex_admin(app).await, get_settings(&globex_id)).await;
    assert_eq!(theirs.fail_mode, FailMode::Secure);

    // End users and operators get 403 from every one of them, even for a server of their own tenant.
    for cookie in [&w.alice, &w.operator] {
        assert_eq!(app.refused(cookie, ListLogins { query: LoginAuditQuery::default() }).await.status, 403);
        assert_eq!(app.refused(cookie, LoginServers {}).await.status, 403);
        for (endpoint, refused) in refusals(cookie.clone(), acme_id.clone()).await {
            assert_eq!(refused.status, 403, "{endpoint}");
        }
        assert_eq!(save(app, cookie, settings(&acme_id, "safe")).await.unwrap_err().status, 403);
    }
    // No session: 401.
    assert_eq!(app.refused(NO_SESSION, ListLogins { query: LoginAuditQuery::default() }).await.status, 401);
}
on_both_databases!(
    another_tenants_server_is_not_found_and_other_roles_are_refused,
    super::another_tenants_server_is_not_found_and_other_roles_are_refused
);

impl World {
    /// A Globex admin's session.
    async fn globex_admin(&self, app: &TestApp) -> String {
        let admin = self.globex.tenant.admin(app, "admin2").await;
        app.sign_in(&admin).await
    }
}

async fn bad_input_is_refused_naming_the_field_and_nothing_is_saved(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.acme.server_id.to_string();
    let networks = SaveLoginSettings { exempt_networks: "10.0.0.0/8\n\n10.0.0.0/33\n".into(), ..settings(&id, "safe") };
    let refused = save(app, &w.admin, networks).await.unwrap_err();
    assert_eq!(refused.status, 422);
    assert!(names(&refused, "exempt_networks[1]", "10.0.0.0/33"), "{refused:?}");
    let accounts = SaveLoginSettings { exempt_accounts: "-rf".into(), ..settings(&id, "open") };
    let refused = save(app, &w.admin, accounts).await.unwrap_err();
    assert_eq!(refused.status, 422);
    assert!(names(&refused, "fail_mode", "") && names(&refused, "exempt_accounts[0]", ""), "{refused:?}");
    let saved = app.run(&w.admin, get_settings(&id)).await;
    assert_eq!((saved.fail_mode.as_str(), saved.exempt_networks.len()), ("secure", 0), "nothing was saved");

    let query = LoginAuditQuery::default;
    for (field, q) in [
        ("result", LoginAuditQuery { result: "maybe".into(), ..query() }),
        ("since", LoginAuditQuery { since: "yesterday".into(), ..query() }),
        ("until", LoginAuditQuery { until: "2026-13-01".into(), ..query() }),
        ("page_size", LoginAuditQuery { page_size: 7, ..query() }),
    ] {
        let refused = app.refused(&w.admin, ListLogins { query: q }).await;
        assert_eq!(refused.status, 422, "{field}");
        assert!(names(&refused, field, ""), "{field}: {refused:?}");
    }
    let backwards = LoginAuditQuery { since: "2026-11-27".into(), until: "2026-11-26".into(), ..query() };
    let refused = app.refused(&w.admin, ListLogins { query: backwards }).await;
    assert_eq!(refused.status, 422);
    assert!(field_errors(&refused).iter().any(|(f, _)| f == "since"), "{refused:?}");
}
on_both_databases!(
    bad_input_is_refused_naming_the_field_and_nothing_is_saved,
    super::bad_input_is_refused_naming_the_field_and_nothing_is_saved
);

async fn settings_changes_and_break_glass_codes_show_in_the_audit_trail(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.acme.server_id.to_string();
    let all = SaveLoginSettings {
        allow_unenrolled: Some("on".into()),
        exempt_accounts: "backup\r\ndeploy".into(),
        exempt_networks: "10.1.2.3/16\n192.0.2.7".into(),
        ..settings(&id, "safe")
    };
    save(app, &w.admin, all).await.unwrap();
    let saved = app.run(&w.admin, get_settings(&id)).await;
    assert_eq!(
        saved,
        LoginSettingsView {
            fail_mode: FailMode::Safe,
            allow_unenrolled: true,
            exempt_accounts: vec!["backup".into(), "deploy".into()],
            exempt_networks: vec!["10.1.0.0/16".into(), "192.0.2.7/32".into()],
        }
    );
    // An unticked checkbox is absent from the form: the setting goes off again.
    app.clock.advance(chrono::Duration::minutes(1));
    let after =
        save(app, &w.admin, SaveLoginSettings { exempt_networks: "10.1.0.0/16".into(), ..settings(&id, "safe") })
            .await
            .unwrap();
    assert!(!after.allow_unenrolled);
    assert!(after.exempt_accounts.is_empty());

    let break_glass = || BreakGlass { server_id: id.clone() };
    let issue = || IssueBreakGlass { server_id: id.clone() };
    let none = app.run(&w.admin, break_glass()).await;
    assert_eq!((none.unused, none.issued), (0, None));
    let codes = app.run(&w.admin, issue()).await;
    assert_eq!(codes.len(), 10);
    let status = app.run(&w.admin, break_glass()).await;
    assert_eq!(status.unused, 10);
    assert!(status.issued.is_some());
    app.clock.advance(chrono::Duration::minutes(1));
    let again = app.run(&w.admin, issue()).await;
    assert!(again.iter().all(|c| !codes.contains(c)));
    let status = app.run(&w.admin, break_glass()).await;
    assert_eq!(status.unused, 10, "the new set replaces the old one");

    let trail = app.run(&w.admin, ListAudit {}).await;
    let settings: Vec<&AuditRow> = trail.iter().filter(|e| e.action == AuditAction::LoginSettings).collect();
    assert_eq!(settings.len(), 2);
    assert!(settings.iter().all(|e| e.target == "acme-web-01" && e.actor.starts_with("admin2@")), "{settings:?}");
    assert!(settings[1].detail.contains("fail mode secure → safe"), "oldest last: {}", settings[1].detail);
    assert!(settings[1].detail.contains("10.1.0.0/16, 192.0.2.7/32"), "{}", settings[1].detail);
    let issued = trail.iter().filter(|e| e.action == AuditAction::LoginBreakGlassIssued).count();
    assert_eq!(issued, 2);
    assert!(trail.iter().all(|e| !codes.iter().any(|c| e.detail.contains(c.as_str()))), "codes are never in the trail");
}
on_both_databases!(
    settings_changes_and_break_glass_codes_show_in_the_audit_trail,
    super::settings_changes_and_break_glass_codes_show_in_the_audit_trail
);

async fn the_demo_has_a_populated_login_audit_for_acme_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let page = audit_ok(&app, &acme, &[("page_size", "100")]).await;
    let results: std::collections::BTreeSet<&str> = page.items.iter().map(|r| r.result.as_str()).collect();
    assert!(results.is_superset(&["allowed", "denied", "open", "abandoned"].into()), "{results:?}");
    assert!(page.items.iter().any(|r| r.offline && r.reason.contains("break-glass")), "{:?}", page.items);
    assert!(page.items.iter().any(|r| r.reason.starts_with("exempt account")));
    assert!(page.items.windows(2).all(|w| w[0].time >= w[1].time), "newest first");
    let globex = app.sign_in(GLOBEX_ADMIN).await;
    assert_eq!(audit_ok(&app, &globex, &[]).await.total, 0);
}
on_both_databases!(
    the_demo_has_a_populated_login_audit_for_acme_only,
    super::the_demo_has_a_populated_login_audit_for_acme_only
);

/// Several "Issue new codes" at once (two admins, a double click): one set survives, so "old
/// codes stop working" holds for every set but the last.
async fn break_glass_codes_issued_at_once_leave_one_set(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.acme.server_id.to_string();
    let issue = || app.try_run(&w.admin, IssueBreakGlass { server_id: id.clone() });
    for _ in 0..3 {
        let issues = futures::future::join_all((0..6).map(|_| issue())).await;
        assert!(issues.iter().all(Result::is_ok), "{issues:?}");
        let status = app.run(&w.admin, BreakGlass { server_id: id.clone() }).await;
        assert_eq!(status.unused, 10);
    }
}
on_both_databases!(
    break_glass_codes_issued_at_once_leave_one_set,
    super::break_glass_codes_issued_at_once_leave_one_set
);

async fn report_offline(app: &TestApp, p: &Protected, logins: Vec<proto::login::OfflineLogin>) {
    let report = proto::login::OfflineReport { logins };
    app.agent_of(p).report_offline(&report).await;
}

fn offline(reason: LoginReason, allowed: bool, at: chrono::DateTime<chrono::Utc>) -> proto::login::OfflineLogin {
    use proto::login::LoginResult;
    proto::login::OfflineLogin {
        id: uuid::Uuid::new_v4(),
        at: at.to_rfc3339(),
        account: "root".into(),
        source_ip: "198.51.100.9".into(),
        service: "sshd".into(),
        result: if allowed { LoginResult::Allowed } else { LoginResult::Denied },
        reason: reason.into(),
        break_glass_id: None,
    }
}

/// Issue 15, items 1 and 4: logins let in without a second factor by fail mode safe are shown on
/// the server's page once the agent reports them, with a link to exactly them in the login
/// audit; a safe-mode login the agent refused past its local limit is reported and worded.
async fn safe_mode_allows_show_on_the_server_page_with_a_link_to_them(backend: Backend) {
    use app::models::ServerRow;
    let w = world(backend).await;
    let app = &w.app;
    let id = w.acme.server_id.to_string();
    let page = || app.run(&w.admin, GetServer { id: id.clone() });
    assert_eq!(page().await.safe_mode_allows, None, "nothing to say before any");

    let now = app.clock.now();
    let minutes = chrono::Duration::minutes;
    report_offline(
        app,
        &w.acme,
        vec![
            offline(LoginReason::FailSafe, true, now - minutes(90)),
            offline(LoginReason::FailSafe, true, now - minutes(30)),
            offline(LoginReason::FailSafe, true, now - chrono::Duration::days(8)),
            offline(LoginReason::FailSafeLimited, false, now - minutes(20)),
            offline(LoginReason::ExemptAccount, true, now - minutes(10)),
        ],
    )
    .await;
    let allows = page().await.safe_mode_allows.expect("the page warns");
    assert_eq!((allows.count, allows.days), (2, 7), "the last 7 days only");
    assert_eq!(utc(allows.last), (now - minutes(30)).format("%Y-%m-%d %H:%M UTC").to_string());

    // The link shows exactly them.
    let query = allows.audit_href.strip_prefix("/hss/login-audit?").expect("a link to the login audit");
    let given: Vec<(&str, &str)> = query.split('&').map(|kv| kv.split_once('=').unwrap()).collect();
    let linked = audit_ok(app, &w.admin, &given).await;
    assert_eq!(linked.total, 2, "{given:?}");
    assert!(linked
        .items
        .iter()
        .all(|r| r.offline && r.result == LoginOutcome::Allowed && r.reason.contains("fail mode safe")));

    // The refused one is in the audit, in words.
    let denied = audit_ok(app, &w.admin, &[("server", &id), ("result", "denied")]).await;
    assert!(
        denied.items.iter().any(|r| r.offline && r.reason.contains("too many logins let in by fail mode safe")),
        "{:?}",
        denied.items
    );
    let because = LoginAuditQuery { reason: "because".into(), ..Default::default() };
    let refused = app.refused(&w.admin, ListLogins { query: because }).await;
    assert_eq!(refused.status, 422);
    assert!(names(&refused, "reason", ""), "{refused:?}");

    // Globex's server has none; Acme's page is not Globex's to see.
    let globex = w.globex_admin(app).await;
    let theirs: ServerRow = app.run(&globex, GetServer { id: w.globex.server_id.to_string() }).await;
    assert_eq!(theirs.safe_mode_allows, None);
    assert_eq!(app.refused(&globex, GetServer { id: id.clone() }).await.status, 404);

    // The page says it in words.
    let html = app.get_page(&format!("/hss/servers/{id}"), Some(&w.admin)).await.text().await.unwrap();
    assert!(html.contains("2 logins were let in without a second factor"), "{html}");
}
on_both_databases!(
    safe_mode_allows_show_on_the_server_page_with_a_link_to_them,
    super::safe_mode_allows_show_on_the_server_page_with_a_link_to_them
);

/// Issue 15, item 9: an exempt network of half the addresses, or networks that together cover
/// them all, are refused like /0, naming the field and the rule.
async fn exempt_networks_that_cover_everything_are_refused(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.acme.server_id.to_string();
    for (networks, field, rule) in [
        ("128.0.0.0/1", "exempt_networks[0]", "half of all addresses"),
        ("10.0.0.0/8\n::/1", "exempt_networks[1]", "half of all addresses"),
        ("0.0.0.0/2\n64.0.0.0/2\n128.0.0.0/2\n192.0.0.0/2", "exempt_networks", "every IPv4 address"),
        ("::/2\n4000::/2\n8000::/2\nc000::/2", "exempt_networks", "every IPv6 address"),
    ] {
        let args = SaveLoginSettings { exempt_networks: networks.into(), ..settings(&id, "safe") };
        let refused = save(app, &w.admin, args).await.unwrap_err();
        assert_eq!(refused.status, 422, "{networks}");
        assert!(names(&refused, field, rule), "{networks}: {refused:?}");
    }
    let saved = app.run(&w.admin, get_settings(&id)).await;
    assert!(saved.exempt_networks.is_empty(), "nothing was saved");
    let partial =
        SaveLoginSettings { exempt_networks: "0.0.0.0/2\n10.0.0.0/8\nfc00::/7".into(), ..settings(&id, "safe") };
    save(app, &w.admin, partial).await.expect("big but partial networks are the admin's call");
}
on_both_databases!(
    exempt_networks_that_cover_everything_are_refused,
    super::exempt_networks_that_cover_everything_are_refused
);
