//! The tenant's server inventory: one server, its readiness for 2FA, and pre-registration. The
//! Two-Factor Authentication tab lists servers through `two_factor::list`.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{server, tenant},
    error::{DomainError, DomainResult, FieldError},
};
use proto::OsType;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The regions a server can be in, as (id, display name).
pub const REGIONS: &[(&str, &str)] =
    &[("ap-southeast-1", "CN-Hong Kong"), ("ap-southeast-3", "AP-Singapore"), ("eu-west-101", "EU-Dublin")];

pub use proto::PAGE_SIZES;
/// The last page number a list accepts; far past any real fleet, and small enough that its
/// offset fits every database's integer.
pub const MAX_PAGE: u64 = 1_000_000;

/// The offset of page `page` (from 1) of `page_size` rows, or the field and rule it breaks.
pub fn page_offset(page: u64, page_size: u64) -> crate::DomainResult<u64> {
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(crate::DomainError::validation("page", format!("must be from 1 to {MAX_PAGE}")));
    }
    if !PAGE_SIZES.contains(&page_size) {
        return Err(crate::DomainError::validation("page_size", "must be 10, 20, 50 or 100"));
    }
    Ok((page - 1) * page_size)
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// One server of the caller's tenant. Another tenant's server is "not found".
pub async fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> DomainResult<server::Model> {
    let tenant_id = caller.admin_tenant()?;
    server::Entity::find_by_id(id)
        .filter(server::Column::TenantId.eq(tenant_id))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("server"))
}

/// The 2FA readiness of a server at `now`, from the facts its agent last reported and, while
/// its last 2FA change stands failed, that failure (`last_apply_failure`).
pub fn readiness(
    s: &server::Model,
    now: chrono::DateTime<chrono::Utc>,
    last_apply_failure: Option<&str>,
) -> Vec<crate::readiness::Finding> {
    let list = |v: &str| v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect();
    crate::readiness::check(&crate::readiness::Facts {
        server_name: s.name.clone(),
        linux: s.os_type == OsType::Linux,
        protection_enabled: s.protection_enabled,
        agent_online: s.agent_online(now),
        last_apply_failure: last_apply_failure.map(str::to_owned),
        sshd_use_pam: s.sshd_use_pam,
        sshd_kbd_interactive: s.sshd_kbd_interactive,
        sshd_permit_empty_passwords: s.sshd_permit_empty_passwords,
        openssh_version: s.openssh_version.clone(),
        selinux: s.selinux,
        must_change_password_accounts: list(&s.must_change_password_accounts),
        conflicting_software: list(&s.conflicting_software),
        // Written by `agents::Facts`; an unreadable value (none yet) means none reported.
        sshd_match_overrides: serde_json::from_str(&s.sshd_match_overrides).unwrap_or_default(),
        // NULL (an agent too old to report it) keeps the rules that do not count on the drop-in.
        sshd_drop_in: s.sshd_drop_in.as_deref().and_then(|j| serde_json::from_str(j).ok()),
        sshd_match_overrides_more: u32::try_from(s.sshd_match_overrides_more).unwrap_or(u32::MAX),
        // NULL: an agent too old to check the stack. A value that does not parse is a problem.
        pam_stack: s.pam_stack.as_deref().map(|j| {
            serde_json::from_str(j).unwrap_or_else(|_| crate::readiness::PamStackCheck {
                problems: vec![crate::readiness::PamStackProblem {
                    file: "/etc/pam.d/sshd".into(),
                    line: 0,
                    problem: "the agent's report of the PAM stack could not be read.".into(),
                    fix: "restart the HostGuard agent so that it reports again.".into(),
                }],
                more: 0,
            })
        }),
    })
}

/// A server an operator registers before its agent does.
#[derive(Clone, Debug)]
pub struct NewServer {
    pub tenant_id: Uuid,
    pub name: String,
    pub ip: String,
    /// `linux` or `windows`.
    pub os_type: String,
    pub region: String,
}

/// Operators register a customer's server ahead of its agent, so it is in the inventory (agent
/// offline, protection off) from the start. Each bad field gets its own error; nothing is saved.
pub async fn pre_register(ctx: &Ctx, caller: &Caller, actor: &Actor, new: &NewServer) -> DomainResult<server::Model> {
    caller.require_role(Role::Operator)?;
    let name = new.name.trim();
    let ip = new.ip.trim();
    let mut errors = vec![];
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        errors.push(FieldError::new("name", "must be 1 to 64 letters, digits, -, _ or ."));
    }
    if ip.parse::<std::net::IpAddr>().is_err() {
        errors.push(FieldError::new("ip", format!("{ip:?} must be an IPv4 or IPv6 address")));
    }
    let os_type = OsType::parse(&new.os_type);
    if os_type.is_none() {
        errors.push(FieldError::new("os_type", "must be linux or windows"));
    }
    if !REGIONS.iter().any(|(id, _)| *id == new.region) {
        errors.push(FieldError::new("region", "must be one of the listed regions"));
    }
    let t = tenant::Entity::find_by_id(new.tenant_id).one(&ctx.db).await?;
    if t.is_none() {
        errors.push(FieldError::new("tenant", "no such tenant"));
    }
    let (Some(os_type), true) = (os_type, errors.is_empty()) else {
        return Err(DomainError::Invalid(errors));
    };
    let txn = crate::db::write_txn(&ctx.db).await?;
    let taken = server::Entity::find()
        .filter(server::Column::TenantId.eq(new.tenant_id))
        .filter(server::Column::Name.eq(name))
        .one(&txn)
        .await?
        .is_some();
    if taken {
        return Err(DomainError::validation("name", format!("the tenant already has a server named {name}")));
    }
    let now = ctx.clock.now();
    let linux = os_type == OsType::Linux;
    let model = server::Entity::insert(server::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(new.tenant_id),
        name: Set(name.to_owned()),
        ip: Set(ip.to_owned()),
        os_type: Set(os_type),
        os_name: Set(if linux { "Linux" } else { "Windows" }.into()),
        region: Set(new.region.clone()),
        protection_enabled: Set(false),
        last_seen_at: Set(None),
        created_at: Set(now),
        openssh_version: Set(None),
        sshd_use_pam: Set(None),
        sshd_kbd_interactive: Set(None),
        sshd_permit_empty_passwords: Set(None),
        selinux: Set(None),
        must_change_password_accounts: Set(String::new()),
        conflicting_software: Set(String::new()),
        agent_credential_hash: Set(None),
        agent_version: Set(None),
        ips: Set(ip.to_owned()),
        facts_at: Set(None),
        sshd_match_overrides: Set(String::new()),
        sshd_drop_in: Set(None),
        pam_stack: Set(None),
        sshd_match_overrides_more: Set(0),
    })
    .exec_with_returning(&txn)
    .await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(new.tenant_id),
            action: AuditAction::ServerPreRegister,
            target: name.to_owned(),
            detail: format!("{os_type} {ip} {}", new.region),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}
