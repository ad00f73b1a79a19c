//! Every server function checks the caller's role and tenant.

use crate::common::*;
use domain::entities::{server, tenant};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

async fn server_id_of(app: &TestApp, tenant_name: &str) -> String {
    let t =
        tenant::Entity::find().filter(tenant::Column::Name.eq(tenant_name)).one(&app.ctx.db).await.unwrap().unwrap();
    let s = server::Entity::find().filter(server::Column::TenantId.eq(t.id)).one(&app.ctx.db).await.unwrap().unwrap();
    s.id.to_string()
}

async fn list(app: &TestApp, cookie: &str, search: &str) -> reqwest::Response {
    app.list_two_factor(Some(cookie), &[("search", search)]).await
}

async fn a_tenant_admin_sees_only_their_own_servers(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let res = list(&app, &acme, "").await;
    assert_eq!(res.status(), 200);
    let page: serde_json::Value = res.json().await.unwrap();
    assert_eq!(page["total"], 25);
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 25);
    assert!(names.iter().all(|n| n.starts_with("acme-")), "{names:?}");

    // Search ignores case and takes %, _ literally, the same on SQLite and PostgreSQL.
    let page: serde_json::Value = list(&app, &acme, "ACME-WEB-0").await.json().await.unwrap();
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["acme-web-01", "acme-web-07"]);
    for wildcard in ["%", "_", "acme%web"] {
        let page: serde_json::Value = list(&app, &acme, wildcard).await.json().await.unwrap();
        assert_eq!(page["total"], 0, "{wildcard} is not a wildcard");
    }

    // Searching for the other tenant's servers finds nothing.
    let page: serde_json::Value = list(&app, &acme, "globex").await.json().await.unwrap();
    assert_eq!(page["total"], 0);
    let page: serde_json::Value = list(&app, &acme, "192.168.11.").await.json().await.unwrap();
    assert_eq!(page["total"], 0, "Globex's addresses are not Acme's");
}
on_both_databases!(a_tenant_admin_sees_only_their_own_servers, super::a_tenant_admin_sees_only_their_own_servers);

async fn another_tenants_server_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let globex_server = server_id_of(&app, "Globex Logistics").await;
    let acme_server = server_id_of(&app, "Acme Retail").await;

    let own = app.call("servers/get", &[("id", &acme_server)], Some(&acme)).await;
    assert_eq!(own.status(), 200);
    let other = app.call("servers/get", &[("id", &globex_server)], Some(&acme)).await;
    assert_eq!(other.status(), 404);
    let body = other.text().await.unwrap();
    assert!(!body.contains("globex"), "nothing of the other tenant leaks: {body}");

    // The page says the same.
    let page = app.get_page(&format!("/hss/servers/{globex_server}"), Some(&acme)).await;
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("does not exist, or is not yours to see"));
    let page = app.get_page(&format!("/hss/servers/{acme_server}"), Some(&acme)).await;
    assert_eq!(page.status(), 200);

    // And the other admin sees their own.
    let globex = app.sign_in(GLOBEX_ADMIN).await;
    assert_eq!(app.call("servers/get", &[("id", &globex_server)], Some(&globex)).await.status(), 200);
    assert_eq!(app.call("servers/get", &[("id", &acme_server)], Some(&globex)).await.status(), 404);
}
on_both_databases!(another_tenants_server_is_not_found, super::another_tenants_server_is_not_found);

async fn roles_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let user = app.sign_in(ALICE).await;
    let operator = app.sign_in(OPERATOR).await;

    // Operator pages refuse tenant admins and end users.
    assert_eq!(app.call("admin/tenants", &[], Some(&admin)).await.status(), 403);
    assert_eq!(app.call("admin/tenants", &[], Some(&user)).await.status(), 403);
    let tenants: serde_json::Value = app.call("admin/tenants", &[], Some(&operator)).await.json().await.unwrap();
    assert_eq!(tenants.as_array().unwrap().len(), 2);
    assert_eq!(tenants[0]["servers"], 25);

    // Tenant pages refuse end users and operators (who administer accounts, not servers).
    assert_eq!(list(&app, &user, "").await.status(), 403);
    assert_eq!(list(&app, &operator, "").await.status(), 403);
    assert_eq!(app.call("topics/list", &[("search", "")], Some(&user)).await.status(), 403);
    // A call the function cannot read is the caller's fault, and says which argument.
    let unreadable = app.call("topics/list", &[], Some(&admin)).await;
    assert_eq!(unreadable.status(), 400);
    assert!(unreadable.text().await.unwrap().contains("search"));
    let topics: serde_json::Value =
        app.call("topics/list", &[("search", "")], Some(&admin)).await.json().await.unwrap();
    assert!(topics.as_array().unwrap().iter().all(|t| t["display_name"].as_str().unwrap().starts_with("Acme")));

    // The portal is the end user's.
    assert_eq!(app.call("portal/account", &[], Some(&admin)).await.status(), 403);
    assert_eq!(app.call("portal/account", &[], Some(&user)).await.status(), 200);

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
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let res = app.list_two_factor(Some(&admin), &[("page_size", "7")]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("page_size") && body.contains("10, 20, 50 or 100"), "{body}");
    let res = app.list_two_factor(Some(&admin), &[("region", "mars-1")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("region"));
}
on_both_databases!(
    bad_paging_input_is_refused_with_the_field_named,
    super::bad_paging_input_is_refused_with_the_field_named
);

async fn each_server_says_what_stands_in_the_way_of_2fa(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.sign_in(ACME_ADMIN).await;
    let by_name = |name: &'static str| {
        let db = app.ctx.db.clone();
        async move {
            let s = server::Entity::find().filter(server::Column::Name.eq(name)).one(&db).await.unwrap().unwrap();
            s.id.to_string()
        }
    };
    let readiness = |id: String| {
        let app = &app;
        let acme = acme.clone();
        async move {
            let s: serde_json::Value = app.call("servers/get", &[("id", &id)], Some(&acme)).await.json().await.unwrap();
            s["readiness"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["rule"].as_str().unwrap().to_owned(), f["blocker"].as_bool().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(readiness(by_name("acme-web-01").await).await, vec![], "a ready server");
    assert_eq!(readiness(by_name("acme-app-11").await).await, vec![("sshd_use_pam".to_owned(), true)]);
    assert_eq!(
        readiness(by_name("acme-db-03").await).await,
        vec![("agent_online".to_owned(), true), ("selinux".to_owned(), false)],
        "blockers first, then warnings"
    );
    assert_eq!(
        readiness(by_name("acme-rdp-08").await).await,
        vec![("agent_online".to_owned(), true), ("windows_must_change_password".to_owned(), false)]
    );
    assert_eq!(readiness(by_name("acme-rdp-12").await).await, vec![("conflicting_software".to_owned(), false)]);

    let s: serde_json::Value =
        app.call("servers/get", &[("id", &by_name("acme-app-11").await)], Some(&acme)).await.json().await.unwrap();
    let message = s["readiness"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("acme-app-11: ") && message.contains("UsePAM yes"), "{message}");
}
on_both_databases!(
    each_server_says_what_stands_in_the_way_of_2fa,
    super::each_server_says_what_stands_in_the_way_of_2fa
);

async fn operators_pre_register_servers_for_a_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let operator = app.sign_in(OPERATOR).await;
    let acme_admin = app.sign_in(ACME_ADMIN).await;
    let acme =
        tenant::Entity::find().filter(tenant::Column::Name.eq("Acme Retail")).one(&app.ctx.db).await.unwrap().unwrap();
    let acme_id = acme.id.to_string();
    let register = |who: String, form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call("admin/servers/register", &form, Some(&who)).await
        }
    };
    let good = |name: &str| {
        vec![
            ("tenant_id", acme_id.clone()),
            ("name", name.to_owned()),
            ("ip", "10.20.30.40".to_owned()),
            ("os_type", "linux".to_owned()),
            ("region", "ap-southeast-3".to_owned()),
        ]
    };

    // Only operators may.
    assert_eq!(register(acme_admin.clone(), good("acme-new-01")).await.status(), 403);

    // Each bad field gets its own error, and nothing is saved.
    let bad = vec![
        ("tenant_id", uuid::Uuid::new_v4().to_string()),
        ("name", "bad name!".to_owned()),
        ("ip", "10.20.30".to_owned()),
        ("os_type", "bsd".to_owned()),
        ("region", "mars-1".to_owned()),
    ];
    let res = register(operator.clone(), bad).await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["Invalid"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["name", "ip", "os_type", "region", "tenant"]);

    let res = register(operator.clone(), good("acme-new-01")).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = register(operator.clone(), good("acme-new-01")).await;
    assert_eq!(res.status(), 422, "names are unique in the tenant");

    // The tenant sees it, offline and not yet protected, with those as blockers.
    let page: serde_json::Value = list(&app, &acme_admin, "acme-new").await.json().await.unwrap();
    assert_eq!(page["total"], 1);
    let s = &page["items"][0];
    assert_eq!((s["ip"].as_str(), s["agent_online"].as_bool()), (Some("10.20.30.40"), Some(false)));
    let rules: Vec<&str> = s["readiness"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.starts_with(&["protection", "agent_online"]), "{rules:?}");
    let audit: Vec<serde_json::Value> = app.call("audit/list", &[], Some(&acme_admin)).await.json().await.unwrap();
    assert!(audit.iter().any(|e| e["action"] == "server.pre_register" && e["actor"] == "ops@hostguard.example"));
}
on_both_databases!(operators_pre_register_servers_for_a_tenant, super::operators_pre_register_servers_for_a_tenant);
