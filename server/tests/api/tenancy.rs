//! Every server function checks the caller's role and tenant.

use crate::common::*;
use app::functions::{
    audit::ListAudit,
    portal::MyAccount,
    servers::GetServer,
    tenants::{ListTenants, PreRegisterServer},
    topics::{CreateTopic, ListTopics},
    two_factor::ListTwoFactor,
};
use app::models::two_factor::TwoFactorQuery;
use app::models::{AppError, ServerRow};
use domain::entities::server;
use proto::audit::AuditAction;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Two tenants with the same kinds of servers, their admins, an end user and an operator, all
/// made by the test with passwords only it knows.
struct World {
    app: TestApp,
    acme: TenantFixture,
    acme_admin: Login,
    globex_admin: Login,
    alice: Login,
    operator: Login,
}

/// Seven servers of a tenant, `{prefix}-web-01` etc., in `192.168.{subnet}.0/24`: three ready,
/// the others each with something in the way of 2FA.
fn fleet(tenant: &TenantFixture, prefix: &str, subnet: u8) -> Vec<server::ActiveModel> {
    let names = ["web-01", "web-07", "web-10", "app-11", "db-03", "rdp-08", "rdp-12"];
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(90);
    ready_servers(tenant.id, prefix, names.len())
        .into_iter()
        .zip(names)
        .enumerate()
        .map(|(i, (mut s, name))| {
            s.name = Set(format!("{prefix}-{name}"));
            s.ip = Set(format!("192.168.{subnet}.{}", 10 + i));
            if name.starts_with("rdp") {
                s.os_type = Set(proto::OsType::Windows);
                s.os_name = Set("Windows Server 2022 Datacenter".into());
                s.openssh_version = Set(None);
                s.sshd_use_pam = Set(None);
                s.sshd_kbd_interactive = Set(None);
                s.sshd_permit_empty_passwords = Set(None);
                s.selinux = Set(None);
            }
            match name {
                "app-11" => s.sshd_use_pam = Set(Some(false)),
                "db-03" => s.selinux = Set(Some(proto::agent::SelinuxMode::Enforcing)),
                "rdp-08" => s.must_change_password_accounts = Set("Administrator".into()),
                "rdp-12" => s.conflicting_software = Set("360 Guard (server edition)".into()),
                _ => {}
            }
            if matches!(name, "db-03" | "rdp-08") {
                s.last_seen_at = Set(Some(long_ago));
            }
            s
        })
        .collect()
}

async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Retail").await;
    let globex = app.create_tenant("Globex Logistics").await;
    app.insert_servers(fleet(&acme, "acme", 10)).await;
    app.insert_servers(fleet(&globex, "globex", 11)).await;
    let acme_admin = acme.admin(&app, "admin").await;
    let globex_admin = globex.admin(&app, "admin").await;
    let alice = acme.end_user(&app, "alice").await;
    let operator = app.create_operator("ops").await;
    for (admin, display_name) in [(&acme_admin, "Acme Ops"), (&globex_admin, "Globex Ops")] {
        let cookie = app.sign_in(admin).await;
        app.run(&cookie, CreateTopic { name: "ops-alerts".into(), display_name: display_name.into() }).await;
    }
    World { app, acme, acme_admin, globex_admin, alice, operator }
}

async fn server_id_of(app: &TestApp, name: &str) -> String {
    let s = server::Entity::find().filter(server::Column::Name.eq(name)).one(&app.ctx.db).await.unwrap().unwrap();
    s.id.to_string()
}

fn names(page: &app::models::TwoFactorPage) -> Vec<&str> {
    page.items.iter().map(|s| s.name.as_str()).collect()
}

fn get(id: &str) -> GetServer {
    GetServer { id: id.to_owned() }
}

fn list(search: &str) -> ListTwoFactor {
    ListTwoFactor { query: TwoFactorQuery { search: search.into(), page_size: 100, ..Default::default() } }
}

async fn a_tenant_admin_sees_only_their_own_servers(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let acme = app.sign_in(&w.acme_admin).await;
    let page = app.two_factor_page(&acme, &[]).await;
    assert_eq!(page.total, 7);
    assert_eq!(page.items.len(), 7);
    assert!(names(&page).iter().all(|n| n.starts_with("acme-")), "{:?}", names(&page));

    // Search ignores case and takes %, _ literally, the same on SQLite and PostgreSQL.
    let page = app.two_factor_page(&acme, &[("search", "ACME-WEB-0")]).await;
    assert_eq!(names(&page), vec!["acme-web-01", "acme-web-07"]);
    for wildcard in ["%", "_", "acme%web"] {
        assert_eq!(app.two_factor_page(&acme, &[("search", wildcard)]).await.total, 0, "{wildcard} is not a wildcard");
    }

    // Searching for the other tenant's servers finds nothing.
    assert_eq!(app.two_factor_page(&acme, &[("search", "globex")]).await.total, 0);
    assert_eq!(
        app.two_factor_page(&acme, &[("search", "192.168.11.")]).await.total,
        0,
        "Globex's addresses are not Acme's"
    );
}
on_both_databases!(a_tenant_admin_sees_only_their_own_servers, super::a_tenant_admin_sees_only_their_own_servers);

async fn another_tenants_server_is_not_found(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let acme = app.sign_in(&w.acme_admin).await;
    let globex_server = server_id_of(app, "globex-web-01").await;
    let acme_server = server_id_of(app, "acme-web-01").await;

    app.run(&acme, get(&acme_server)).await;
    let other = app.refused(&acme, get(&globex_server)).await;
    assert_eq!(other.status, 404);
    assert!(!format!("{other:?}").contains("globex"), "nothing of the other tenant leaks: {other:?}");

    // The page says the same.
    let page = app.get_page(&format!("/hss/servers/{globex_server}"), Some(&acme)).await;
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("does not exist, or is not yours to see"));
    let page = app.get_page(&format!("/hss/servers/{acme_server}"), Some(&acme)).await;
    assert_eq!(page.status(), 200);

    // And the other admin sees their own.
    let globex = app.sign_in(&w.globex_admin).await;
    app.run(&globex, get(&globex_server)).await;
    assert_eq!(app.refused(&globex, get(&acme_server)).await.status, 404);
}
on_both_databases!(another_tenants_server_is_not_found, super::another_tenants_server_is_not_found);

async fn roles_are_checked(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let admin = app.sign_in(&w.acme_admin).await;
    let user = app.sign_in(&w.alice).await;
    let operator = app.sign_in(&w.operator).await;

    // Operator pages refuse tenant admins and end users.
    assert_eq!(app.refused(&admin, ListTenants {}).await.status, 403);
    assert_eq!(app.refused(&user, ListTenants {}).await.status, 403);
    let tenants = app.run(&operator, ListTenants {}).await;
    assert_eq!(tenants.len(), 2);
    assert_eq!((tenants[0].name.as_str(), tenants[0].servers), ("Acme Retail", 7));

    // Tenant pages refuse end users and operators (who administer accounts, not servers).
    assert_eq!(app.refused(&user, list("")).await.status, 403);
    assert_eq!(app.refused(&operator, list("")).await.status, 403);
    assert_eq!(app.refused(&user, ListTopics { search: "".into() }).await.status, 403);
    // A call the function cannot read is the caller's fault, and says which argument (raw:
    // the typed call always sends it).
    let unreadable = app.call("topics/list", &[], Some(&admin)).await;
    assert_eq!(unreadable.status(), 400);
    assert!(unreadable.text().await.unwrap().contains("search"));
    let topics = app.run(&admin, ListTopics { search: "".into() }).await;
    let shown: Vec<&str> = topics.iter().map(|t| t.display_name.as_str()).collect();
    assert_eq!(shown, vec!["Acme Ops"], "only Acme's topics");

    // The portal is the end user's.
    assert_eq!(app.refused(&admin, MyAccount {}).await.status, 403);
    app.run(&user, MyAccount {}).await;

    // Without a session, nothing.
    for endpoint in [
        "two-factor/list",
        "servers/get",
        "topics/list",
        "topics/subscriptions",
        "admin/tenants",
        "admin/outbox",
        "audit/list",
        "portal/account",
    ] {
        let res = app
            .call(
                endpoint,
                &[
                    ("search", ""),
                    ("status", ""),
                    ("os_type", ""),
                    ("method", ""),
                    ("sort", ""),
                    ("region", ""),
                    ("page", "1"),
                    ("page_size", "10"),
                    ("id", "x"),
                    ("topic_id", "x"),
                ],
                None,
            )
            .await;
        assert_eq!(res.status(), 401, "{endpoint} without a session");
    }
}
on_both_databases!(roles_are_checked, super::roles_are_checked);

async fn bad_paging_input_is_refused_with_the_field_named(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let admin = app.sign_in(&w.acme_admin).await;
    let query = |q: TwoFactorQuery| ListTwoFactor { query: q };
    let refused = app.refused(&admin, query(TwoFactorQuery { page_size: 7, ..Default::default() })).await;
    assert_eq!(refused.status, 422);
    assert!(
        matches!(&refused.error, AppError::Validation { field, message } if field == "page_size" && message.contains("10, 20, 50 or 100")),
        "{refused}"
    );
    let refused = app.refused(&admin, query(TwoFactorQuery { region: "mars-1".into(), ..Default::default() })).await;
    assert_eq!(refused.status, 422);
    assert!(matches!(&refused.error, AppError::Validation { field, .. } if field == "region"), "{refused}");
}
on_both_databases!(
    bad_paging_input_is_refused_with_the_field_named,
    super::bad_paging_input_is_refused_with_the_field_named
);

async fn each_server_says_what_stands_in_the_way_of_2fa(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let acme = app.sign_in(&w.acme_admin).await;
    let by_name = |name: &'static str| server_id_of(app, name);
    let readiness = |id: String| {
        let acme = acme.clone();
        async move {
            let s: ServerRow = app.run(&acme, get(&id)).await;
            s.readiness.into_iter().map(|f| (f.rule.as_str().to_owned(), f.blocker)).collect::<Vec<_>>()
        }
    };
    assert_eq!(readiness(by_name("acme-web-01").await).await, vec![], "a ready server");
    assert_eq!(readiness(by_name("acme-app-11").await).await, vec![("sshd_use_pam".to_owned(), true)]);
    assert_eq!(
        readiness(by_name("acme-db-03").await).await,
        vec![("agent_online".to_owned(), false), ("selinux".to_owned(), false)],
        "blockers first, then warnings"
    );
    // No agent applies 2FA on Windows yet: every Windows server is blocked, saying so.
    assert_eq!(
        readiness(by_name("acme-rdp-08").await).await,
        vec![
            ("windows_unsupported".to_owned(), true),
            ("agent_online".to_owned(), false),
            ("windows_must_change_password".to_owned(), false)
        ]
    );
    assert_eq!(
        readiness(by_name("acme-rdp-12").await).await,
        vec![("conflicting_software".to_owned(), true), ("windows_unsupported".to_owned(), true)]
    );

    let s = app.run(&acme, get(&by_name("acme-app-11").await)).await;
    let message = &s.readiness[0].message;
    assert!(message.starts_with("acme-app-11: ") && message.contains("UsePAM yes"), "{message}");
}
on_both_databases!(
    each_server_says_what_stands_in_the_way_of_2fa,
    super::each_server_says_what_stands_in_the_way_of_2fa
);

async fn operators_pre_register_servers_for_a_tenant(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let operator = app.sign_in(&w.operator).await;
    let acme_admin = app.sign_in(&w.acme_admin).await;
    let acme_id = w.acme.id.to_string();
    let register = |who: String, args: PreRegisterServer| async move { app.try_run(&who, args).await };
    let good = |name: &str| PreRegisterServer {
        tenant_id: acme_id.clone(),
        name: name.to_owned(),
        ip: "10.20.30.40".to_owned(),
        os_type: "linux".to_owned(),
        region: "ap-southeast-3".to_owned(),
    };

    // Only operators may.
    assert_eq!(register(acme_admin.clone(), good("acme-new-01")).await.unwrap_err().status, 403);

    // Each bad field gets its own error, and nothing is saved.
    let bad = PreRegisterServer {
        tenant_id: uuid::Uuid::new_v4().to_string(),
        name: "bad name!".to_owned(),
        ip: "10.20.30".to_owned(),
        os_type: "bsd".to_owned(),
        region: "mars-1".to_owned(),
    };
    let refused = register(operator.clone(), bad).await.unwrap_err();
    assert_eq!(refused.status, 422);
    let AppError::Invalid(errors) = &refused.error else { panic!("one error per field: {refused}") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["name", "ip", "os_type", "region", "tenant"]);

    register(operator.clone(), good("acme-new-01")).await.unwrap();
    let refused = register(operator.clone(), good("acme-new-01")).await.unwrap_err();
    assert_eq!(refused.status, 422, "names are unique in the tenant");

    // The tenant sees it, not yet protected (a blocker) and offline (a warning).
    let page = app.two_factor_page(&acme_admin, &[("search", "acme-new")]).await;
    assert_eq!(page.total, 1);
    let s = &page.items[0];
    assert_eq!((s.ip.as_str(), s.agent_online), ("10.20.30.40", false));
    let rules: Vec<(&str, bool)> = s.readiness.iter().map(|f| (f.rule.as_str(), f.blocker)).collect();
    assert_eq!(rules.first(), Some(&("protection", true)), "{rules:?}");
    assert!(rules.contains(&("agent_online", false)), "{rules:?}");
    let audit = app.run(&acme_admin, ListAudit {}).await;
    assert!(audit.iter().any(|e| e.action == AuditAction::ServerPreRegister && e.actor == w.operator.email));
}
on_both_databases!(operators_pre_register_servers_for_a_tenant, super::operators_pre_register_servers_for_a_tenant);
