//! What agents report: their facts (checked, then written to the server row) and heartbeats.

use crate::{
    ctx::Ctx,
    entities::server,
    error::{DomainError, DomainResult, FieldError},
};
use chrono::{DateTime, Utc};
use proto::{agent::Facts, OsType};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// An agent silent for longer is shown offline.
pub const OFFLINE_AFTER_SECS: i64 = 180;

/// Longest lengths the agent API accepts for each fact; longer is refused naming the field.
pub mod limits {
    pub const HOSTNAME: usize = 64;
    pub const IPS: usize = 32;
    /// The longest textual IPv6 address (with an embedded IPv4 address).
    pub const IP: usize = 45;
    pub const OS_NAME: usize = 128;
    pub const VERSION: usize = 64;
    pub const AGENT_VERSION: usize = 32;
    pub const SOFTWARE: usize = 32;
    pub const SOFTWARE_NAME: usize = 128;
    pub const ACCOUNTS: usize = 256;
    pub const ACCOUNT_NAME: usize = 64;
    /// Agents cut their lists and texts to these (`proto::agent::limits`) and count the rest.
    pub const MATCH_OVERRIDES: usize = proto::agent::limits::LIST;
    pub const MATCH_TEXT: usize = proto::agent::limits::TEXT;
    /// Settings sshd reads before HostGuard's drop-in; texts are limited like `MATCH_TEXT`.
    pub const EARLIER_SETTINGS: usize = proto::agent::limits::LIST;
    /// Problems in the PAM stack; texts are limited like `MATCH_TEXT`.
    pub const PAM_PROBLEMS: usize = proto::agent::limits::LIST;
    pub const INSTALL_TOKEN: usize = 200;
    /// Characters of an acknowledgement's `error`.
    pub const ACK_ERROR: usize = 4000;
}

/// The console's checks of what an agent reports.
pub(super) trait Check {
    fn check(&self) -> DomainResult<()>;
    fn write_to(&self, m: &mut server::ActiveModel, now: DateTime<Utc>);
}

impl Check for Facts {
    fn check(&self) -> DomainResult<()> {
        use limits::*;
        let mut errors = vec![];
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        let too_long = |v: &str, max: usize| v.chars().count() > max;
        let list_bad = |v: &[String], count: usize, max: usize| {
            v.len() > count || v.iter().any(|x| x.trim().is_empty() || too_long(x, max) || x.contains(','))
        };
        let name = self.hostname.trim();
        if name.is_empty()
            || name.len() > HOSTNAME
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bad("hostname", format!("must be 1 to {HOSTNAME} letters, digits, -, _ or ."));
        }
        if self.ips.len() > IPS || self.ips.iter().any(|ip| ip.len() > IP || ip.parse::<std::net::IpAddr>().is_err()) {
            bad("ips", format!("must be at most {IPS} IPv4 or IPv6 addresses"));
        }
        if OsType::parse(&self.os_type).is_none() {
            bad("os_type", "must be linux or windows".into());
        }
        if too_long(&self.os_name, OS_NAME) {
            bad("os_name", format!("must be at most {OS_NAME} characters"));
        }
        if self.openssh_version.as_deref().is_some_and(|v| too_long(v, VERSION)) {
            bad("openssh_version", format!("must be at most {VERSION} characters"));
        }
        if too_long(&self.agent_version, AGENT_VERSION) {
            bad("agent_version", format!("must be at most {AGENT_VERSION} characters"));
        }
        if list_bad(&self.conflicting_software, SOFTWARE, SOFTWARE_NAME) {
            bad(
                "conflicting_software",
                format!("must be at most {SOFTWARE} names of 1 to {SOFTWARE_NAME} characters without commas"),
            );
        }
        if list_bad(&self.must_change_password_accounts, ACCOUNTS, ACCOUNT_NAME) {
            bad(
                "must_change_password_accounts",
                format!("must be at most {ACCOUNTS} account names of 1 to {ACCOUNT_NAME} characters without commas"),
            );
        }
        if self.sshd_match_overrides.len() > MATCH_OVERRIDES
            || self
                .sshd_match_overrides
                .iter()
                .any(|o| [&o.file, &o.criteria, &o.keyword, &o.value].iter().any(|v| too_long(v, MATCH_TEXT)))
        {
            bad(
                "sshd_match_overrides",
                format!("must be at most {MATCH_OVERRIDES} entries whose texts have at most {MATCH_TEXT} characters"),
            );
        }
        if let Some(d) = &self.sshd_drop_in {
            if d.earlier_settings.len() > EARLIER_SETTINGS
                || d.earlier_settings
                    .iter()
                    .any(|s| [&s.file, &s.keyword, &s.value].iter().any(|v| too_long(v, MATCH_TEXT)))
            {
                bad(
                    "sshd_drop_in",
                    format!(
                        "earlier_settings must be at most {EARLIER_SETTINGS} entries whose texts have at most {MATCH_TEXT} characters"
                    ),
                );
            }
        }
        if let Some(p) = &self.pam_stack {
            if p.problems.len() > PAM_PROBLEMS
                || p.problems.iter().any(|x| [&x.file, &x.problem, &x.fix].iter().any(|v| too_long(v, MATCH_TEXT)))
            {
                bad(
                    "pam_stack",
                    format!("problems must be at most {PAM_PROBLEMS} entries whose texts have at most {MATCH_TEXT} characters"),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    fn write_to(&self, m: &mut server::ActiveModel, now: DateTime<Utc>) {
        let join = |v: &[String]| v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ");
        m.ip = Set(self.ips.first().cloned().unwrap_or_default());
        m.ips = Set(self.ips.join(","));
        if let Some(os) = OsType::parse(&self.os_type) {
            m.os_type = Set(os); // `check` refused any other value
        }
        m.os_name = Set(self.os_name.clone());
        m.openssh_version = Set(self.openssh_version.clone());
        m.sshd_use_pam = Set(self.sshd_use_pam);
        m.sshd_kbd_interactive = Set(self.sshd_kbd_interactive);
        m.sshd_permit_empty_passwords = Set(self.sshd_permit_empty_passwords);
        m.selinux = Set(self.selinux);
        m.conflicting_software = Set(join(&self.conflicting_software));
        m.must_change_password_accounts = Set(join(&self.must_change_password_accounts));
        m.sshd_match_overrides = Set(serde_json::to_string(&self.sshd_match_overrides).unwrap_or_default());
        m.sshd_drop_in = Set(self.sshd_drop_in.as_ref().and_then(|d| serde_json::to_string(d).ok()));
        m.sshd_match_overrides_more = Set(i32::try_from(self.sshd_match_overrides_more).unwrap_or(i32::MAX));
        m.pam_stack = Set(self.pam_stack.as_ref().and_then(|p| serde_json::to_string(p).ok()));
        m.agent_version = Set(Some(self.agent_version.clone()));
        m.facts_at = Set(Some(now));
        m.last_seen_at = Set(Some(now));
    }
}

pub async fn report_facts(ctx: &Ctx, s: &server::Model, facts: &Facts) -> DomainResult<()> {
    facts.check()?;
    let mut m = server::ActiveModel { id: Set(s.id), ..Default::default() };
    facts.write_to(&mut m, ctx.clock.now());
    server::Entity::update(m).exec(&ctx.db).await?;
    Ok(())
}

/// The agent is alive and runs `applied_revision`; a host on a revision the console does not
/// show is brought back in step (`two_factor::reconcile`).
pub async fn heartbeat(ctx: &Ctx, s: &server::Model, applied_revision: i64, source_ip: &str) -> DomainResult<()> {
    server::Entity::update_many()
        .col_expr(server::Column::LastSeenAt, Expr::value(ctx.clock.now()))
        .filter(server::Column::Id.eq(s.id))
        .exec(&ctx.db)
        .await?;
    crate::two_factor::reconcile(ctx, s, applied_revision, source_ip).await?;
    Ok(())
}
