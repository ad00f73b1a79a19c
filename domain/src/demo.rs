//! Demo data for the run command: one operator, two tenants with an admin and end users, about
//! 25 servers each (Linux and Windows, some agents offline), a couple of topics, and a few logins
//! in Acme's login audit.

use crate::{
    accounts,
    caller::Role,
    ctx::Ctx,
    entities::{account_mapping, server, server_login, tenant, topic, user},
    error::DomainResult,
    servers::REGIONS,
    tenants, topics,
};
use chrono::{DateTime, Duration, Utc};
use proto::{
    agent::SelinuxMode,
    login::{LoginMethod, LoginResult},
    OsType,
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// A sign-in created by the demo data, printed at start-up.
#[derive(Clone, Debug)]
pub struct DemoSignIn {
    pub role: Role,
    pub tenant: Option<String>,
    pub email: String,
    pub password: String,
}

struct DemoTenant {
    name: &'static str,
    domain: &'static str,
    prefix: &'static str,
    users: &'static [&'static str],
}

const TENANTS: &[DemoTenant] = &[
    DemoTenant {
        name: "Acme Retail",
        domain: "acme.example",
        prefix: "acme",
        users: &["Alice Chen", "Bob Okafor", "Carmen Ruiz"],
    },
    DemoTenant {
        name: "Globex Logistics",
        domain: "globex.example",
        prefix: "globex",
        users: &["Dmitri Ivanov", "Esther Lim", "Farid Haddad"],
    },
];

pub const OPERATOR_EMAIL: &str = "ops@hostguard.example";

fn password(who: &str) -> String {
    format!("{who}-demo-2026")
}

fn first_name(full: &str) -> String {
    full.split(' ').next().unwrap_or(full).to_lowercase()
}

/// The published seeds (base32) of the demo operator's and tenant admins' console
/// authenticators: their console sign-in asks for a code, and anyone may add these to an app
/// (or compute the code, as the browser tests do). Demo data only.
pub const CONSOLE_SEEDS: &[(&str, &str)] = &[
    (OPERATOR_EMAIL, "HOSTGUARDDEMOOPERATORSEEDAAAAAAA"),
    ("admin@acme.example", "HOSTGUARDDEMOACMEADMINSEEDAAAAAA"),
    ("admin@globex.example", "HOSTGUARDDEMOGLOBEXADMINSEEDAAAA"),
];

/// The demo seed of `email`'s console authenticator, if it has one.
pub fn console_seed(email: &str) -> Option<&'static str> {
    CONSOLE_SEEDS.iter().find(|(e, _)| *e == email).map(|(_, s)| *s)
}

async fn enrol_console_seed(ctx: &Ctx, user: &crate::entities::user::Model) -> DomainResult<()> {
    // Without the server's secret key no authenticator can be kept (nor can its admins sign in).
    if crate::seal::server_key(ctx).is_none() {
        return Ok(());
    }
    if let Some(seed) = console_seed(&user.email) {
        crate::console_auth::enrol_known_seed(ctx, user.id, "Demo authenticator", seed).await?;
    }
    Ok(())
}

/// Every demo sign-in, in the order they are printed.
pub fn sign_ins() -> Vec<DemoSignIn> {
    let mut out = vec![DemoSignIn {
        role: Role::Operator,
        tenant: None,
        email: OPERATOR_EMAIL.into(),
        password: password("operator"),
    }];
    for t in TENANTS {
        out.push(DemoSignIn {
            role: Role::TenantAdmin,
            tenant: Some(t.name.into()),
            email: format!("admin@{}", t.domain),
            password: password(&format!("{}-admin", t.prefix)),
        });
        for name in t.users {
            let first = first_name(name);
            out.push(DemoSignIn {
                role: Role::EndUser,
                tenant: Some(t.name.into()),
                email: format!("{first}@{}", t.domain),
                password: password(&first),
            });
        }
    }
    out
}

/// The published token of the invitation the demo opens for `email` (Acme's end users), whose
/// link sets up their first factor: `/invite?token=…`. Demo data only; it works for
/// [`crate::users::invitations::VALID_HOURS`] after the demo data is made.
pub fn invitation_token(email: &str) -> Option<String> {
    let (name, domain) = email.split_once('@')?;
    let tenant = TENANTS.first()?;
    (domain == tenant.domain && tenant.users.iter().any(|u| first_name(u) == name))
        .then(|| format!("demo-invitation-{name}-{}", tenant.prefix))
}

/// The demo's open invitations, in the order they are printed: each person's email and link
/// path (to append to the console's public URL).
pub fn invitation_links() -> Vec<(String, String)> {
    sign_ins()
        .into_iter()
        .filter_map(|s| Some((s.email.clone(), format!("/invite?token={}", invitation_token(&s.email)?))))
        .collect()
}

/// Seeds the demo data if the database has no tenant yet. Returns whether it did.
pub async fn seed_if_empty(ctx: &Ctx) -> DomainResult<bool> {
    if tenants::any(ctx).await? {
        return Ok(false);
    }
    let logins = sign_ins();
    let login = |email: &str| logins.iter().find(|s| s.email == email).map(|s| s.password.clone()).unwrap_or_default();
    let operator = accounts::create_user(
        ctx,
        None,
        OPERATOR_EMAIL,
        "HostGuard Operations",
        Role::Operator,
        &login(OPERATOR_EMAIL),
    )
    .await?;
    enrol_console_seed(ctx, &operator).await?;

    let now = ctx.clock.now();
    for (ti, t) in TENANTS.iter().enumerate() {
        let tenant_id = Uuid::new_v4();
        let project_id = tenant_id.simple().to_string();
        tenant::Entity::insert(tenant::ActiveModel {
            id: Set(tenant_id),
            name: Set(t.name.into()),
            project_id: Set(project_id.clone()),
            created_at: Set(now),
        })
        .exec(&ctx.db)
        .await?;
        crate::credits::open(&ctx.db, tenant_id, now).await?;

        let admin = format!("admin@{}", t.domain);
        let admin_user = accounts::create_user(
            ctx,
            Some(tenant_id),
            &admin,
            &format!("{} Admin", t.name),
            Role::TenantAdmin,
            &login(&admin),
        )
        .await?;
        enrol_console_seed(ctx, &admin_user).await?;
        let mut end_users = vec![];
        for name in t.users {
            let email = format!("{}@{}", first_name(name), t.domain);
            end_users
                .push(accounts::create_user(ctx, Some(tenant_id), &email, name, Role::EndUser, &login(&email)).await?);
        }

        let servers: Vec<server::ActiveModel> = (1..=25u32)
            .map(|i| {
                let windows = i % 4 == 0;
                let (role, os_name) = match (windows, i % 3) {
                    (true, 0) => ("rdp", "Windows Server 2019 Datacenter"),
                    (true, _) => ("rdp", "Windows Server 2022 Datacenter"),
                    (false, 0) => ("db", "CentOS 7.9"),
                    (false, 1) => ("web", "Ubuntu 22.04 LTS"),
                    (false, _) => ("app", "Huawei Cloud EulerOS 2.0"),
                };
                // Demo servers have no agent: each was last heard from when the demo was made
                // (or long before, for the offline ones, and acme-web-22 13 minutes before), so
                // like any other server they show Offline once 3 minutes have passed.
                let silent_for = match (i % 5, i) {
                    (3, _) => 90 + i as i64,
                    (_, 22) => 13,
                    _ => 0,
                };
                let openssh = match os_name {
                    "CentOS 7.9" => "OpenSSH_7.4p1",
                    "Ubuntu 22.04 LTS" => "OpenSSH_8.9p1",
                    _ => "OpenSSH_8.8p1",
                };
                // A few servers that are not ready, so the readiness rules have something to say.
                let linux_fact = |v: bool| if windows { None } else { Some(v) };
                server::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    tenant_id: Set(tenant_id),
                    name: Set(format!("{}-{role}-{i:02}", t.prefix)),
                    ip: Set(format!("192.168.{}.{}", 10 + ti, 10 + i)),
                    os_type: Set(if windows { OsType::Windows } else { OsType::Linux }),
                    os_name: Set(os_name.into()),
                    region: Set(REGIONS[(i as usize) % 2].0.into()),
                    protection_enabled: Set(i % 7 != 6),
                    last_seen_at: Set(Some(now - chrono::Duration::minutes(silent_for))),
                    created_at: Set(now),
                    openssh_version: Set((!windows).then(|| openssh.to_owned())),
                    sshd_use_pam: Set(linux_fact(i != 11)),
                    sshd_kbd_interactive: Set(linux_fact(i != 14)),
                    sshd_permit_empty_passwords: Set(linux_fact(false)),
                    selinux: Set((!windows).then_some(if os_name == "CentOS 7.9" {
                        SelinuxMode::Enforcing
                    } else {
                        SelinuxMode::Disabled
                    })),
                    must_change_password_accounts: Set(if i == 8 { "Administrator".into() } else { String::new() }),
                    conflicting_software: Set(if i == 12 {
                        "360 Guard (server edition)".into()
                    } else {
                        String::new()
                    }),
                    agent_credential_hash: Set(None),
                    agent_version: Set(None),
                    ips: Set(format!("192.168.{}.{}", 10 + ti, 10 + i)),
                    facts_at: Set(None),
                    sshd_match_overrides: Set(String::new()),
                    sshd_drop_in: Set(None),
                    pam_stack: Set(None),
                    sshd_match_overrides_more: Set(0),
                }
            })
            .collect();
        let named: Vec<(Uuid, String)> =
            servers.iter().filter_map(|s| Some((*s.id.try_as_ref()?, s.name.try_as_ref()?.clone()))).collect();
        server::Entity::insert_many(servers).exec(&ctx.db).await?;
        if ti == 0 {
            server_login::Entity::insert_many(demo_logins(tenant_id, &named, now)).exec(&ctx.db).await?;
        }
        map_accounts(ctx, tenant_id, t.prefix, &end_users).await?;
        // Acme's people have an open invitation whose link the demo prints (none is mailed):
        // a first factor comes only from an invitation's link, never from the portal. Globex's
        // show the portal before an admin invites them.
        if ti == 0 {
            for u in &end_users {
                if let Some(token) = invitation_token(&u.email) {
                    crate::users::invitations::open_with_known_token(&ctx.db, tenant_id, u, &admin, &token, now)
                        .await?;
                }
            }
        }

        for (name, display) in
            [("ops-alerts", format!("{} Ops", t.name)), ("login-codes", format!("{} Login Codes", t.name))]
        {
            topic::Entity::insert(topic::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(tenant_id),
                name: Set(name.into()),
                display_name: Set(display),
                urn: Set(topics::urn(REGIONS[0].0, &project_id, name)),
                created_at: Set(now),
            })
            .exec(&ctx.db)
            .await?;
        }
    }
    Ok(true)
}

/// Server index, minutes ago, account, source address, method, result, reason, offline.
type DemoLogin = (usize, i64, &'static str, &'static str, LoginMethod, Option<LoginResult>, &'static str, bool);

/// A day of logins on a few of a tenant's servers (`servers` in the order they were made):
/// codes accepted and refused, an exemption, offline decisions, one login still running.
fn demo_logins(tenant_id: Uuid, servers: &[(Uuid, String)], now: DateTime<Utc>) -> Vec<server_login::ActiveModel> {
    let rows: [DemoLogin; 10] = [
        (0, 1, "deploy", "203.0.113.24", LoginMethod::Sms, None, "", false),
        (0, 6, "root", "203.0.113.24", LoginMethod::Sms, Some(LoginResult::Allowed), "code accepted", false),
        (0, 22, "deploy", "198.51.100.7", LoginMethod::Sms, Some(LoginResult::Denied), "3 wrong codes", false),
        (2, 58, "backup", "10.20.0.15", LoginMethod::None, Some(LoginResult::Allowed), "exempt account backup", false),
        (
            6,
            95,
            "admin",
            "192.0.2.50",
            LoginMethod::Code,
            Some(LoginResult::Denied),
            "account not linked to a HostGuard user",
            false,
        ),
        (
            1,
            180,
            "root",
            "10.20.1.9",
            LoginMethod::None,
            Some(LoginResult::Allowed),
            "break-glass code used while the console was unreachable",
            true,
        ),
        (
            1,
            184,
            "oracle",
            "10.20.1.33",
            LoginMethod::None,
            Some(LoginResult::Denied),
            "console unreachable; denied by fail mode secure",
            true,
        ),
        (0, 250, "root", "203.0.113.24", LoginMethod::Sms, None, "", false),
        (6, 1500, "ops", "10.10.0.4", LoginMethod::Code, Some(LoginResult::Allowed), "code accepted", false),
        (2, 1560, "root", "203.0.113.200", LoginMethod::Sms, Some(LoginResult::Denied), "the code expired", false),
    ];
    rows.iter()
        .enumerate()
        .filter_map(|(n, &(server, ago, account, source, method, result, reason, offline))| {
            let (server_id, server_name) = servers.get(server)?.clone();
            let at = now - Duration::minutes(ago) - Duration::seconds(17 * n as i64);
            let open = result.is_none();
            Some(server_login::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(tenant_id),
                server_id: Set(server_id),
                server_name: Set(server_name),
                account: Set(account.into()),
                source_ip: Set(source.into()),
                source_block: Set(crate::accounts::source_block(source)),
                service: Set("sshd".into()),
                method: Set(method),
                number: Set(if method == LoginMethod::None { 0 } else { 20 + n as i32 }),
                // The open ones wait for the code; the older of them has been given up.
                stage: Set(if open { server_login::Stage::Code } else { server_login::Stage::Done }),
                code_hash: Set(None),
                code_sent_at: Set(open.then_some(at)),
                code_expires_at: Set(open.then(|| at + Duration::minutes(crate::logins::CODE_VALID_MINUTES))),
                attempts: Set(if reason == "3 wrong codes" { 3 } else { 0 }),
                result: Set(result),
                reason: Set(reason.into()),
                offline: Set(offline),
                end_user_id: Set(None),
                created_at: Set(at),
                finished_at: Set((!open).then_some(at + Duration::seconds(40))),
            })
        })
        .collect()
}

/// Server accounts for verification-code mode: each end user logs in as their first name
/// everywhere; `root` is the first user's on every server except the `db-03` server, where the
/// third user (who runs the databases) has it.
async fn map_accounts(ctx: &Ctx, tenant_id: Uuid, prefix: &str, end_users: &[user::Model]) -> DomainResult<()> {
    let now = ctx.clock.now();
    let mapping = |account: &str, end_user: &user::Model, server_id: Option<Uuid>| account_mapping::Model {
        id: Uuid::new_v4(),
        tenant_id,
        server_id,
        account: account.to_owned(),
        end_user_id: end_user.id,
        created_at: now,
    };
    let mut rows: Vec<_> = end_users.iter().map(|u| mapping(&first_name(&u.display_name), u, None)).collect();
    if let Some(first) = end_users.first() {
        rows.push(mapping("root", first, None));
    }
    let db_server = server::Entity::find()
        .filter(server::Column::TenantId.eq(tenant_id))
        .filter(server::Column::Name.eq(format!("{prefix}-db-03")))
        .one(&ctx.db)
        .await?;
    if let (Some(s), Some(third)) = (db_server, end_users.get(2)) {
        rows.push(mapping("root", third, Some(s.id)));
    }
    for row in &rows {
        crate::factors::mapping::insert(&ctx.db, row).await?;
    }
    Ok(())
}
