//! Huawei Cloud's official Python SDKs (huaweicloudsdksmn, huaweicloudsdkhss), unchanged,
//! against the real console: `server/tests/sdk/hss_smn_sdk.py` must exit 0.

use crate::common::*;
use domain::entities::server;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

async fn the_official_sdks_work_against_the_console(backend: Backend) {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let python = workspace.join(".tools/venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup.sh", python.display());

    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let res = app.call("access_keys/create", &[("description", "official SDK test")], Some(&admin)).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let key: serde_json::Value = res.json().await.unwrap();

    // A Linux server of the tenant, for the 2FA config call.
    let tenant: domain::entities::tenant::Model = domain::entities::tenant::Entity::find()
        .filter(domain::entities::tenant::Column::ProjectId.eq(key["project_id"].as_str().unwrap()))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let host = server::Entity::find()
        .filter(server::Column::TenantId.eq(tenant.id))
        .filter(server::Column::OsType.eq("linux"))
        .order_by_asc(server::Column::Name)
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .find(|s| {
            domain::servers::readiness(s, chrono::Utc::now(), None)
                .iter()
                .all(|f| f.severity != domain::readiness::Severity::Blocker)
        })
        .expect("the demo tenant has a Linux server ready for 2FA");

    // The SDK stamps X-Sdk-Date from the real clock; the console's test clock started at the
    // real time, so they agree within the 15 minutes allowed.
    let out = tokio::process::Command::new(&python)
        .arg(workspace.join("server/tests/sdk/hss_smn_sdk.py"))
        .env("HOSTGUARD_ENDPOINT", &app.base)
        .env("HOSTGUARD_AK", key["access_key"].as_str().unwrap())
        .env("HOSTGUARD_SK", key["secret_key"].as_str().unwrap())
        .env("HOSTGUARD_PROJECT_ID", key["project_id"].as_str().unwrap())
        .env("HOSTGUARD_HOST_ID", host.id.to_string())
        .output()
        .await
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK script failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("all SDK calls behaved"), "{stdout}");
}
on_both_databases!(the_official_sdks_work_against_the_console, the_official_sdks_work_against_the_console);
