//! A server's login settings (fail mode, exemptions, unenrolled accounts), its break-glass
//! codes, and what its agent needs to decide logins alone while the console is unreachable.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{break_glass_code, login_settings, server, server_login},
    error::{DomainError, DomainResult, FieldError},
    validate::AccountName,
};
use chrono::{DateTime, Duration, Utc};
use proto::exempt::{self, Network};
use proto::login::{BreakGlassHash, FailMode, LoginPolicy, LoginReason, LoginResult, OfflineReport};
use proto::MaybeKnown;
use rand::Rng;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

pub const MAX_EXEMPT_ACCOUNTS: usize = 50;
pub const MAX_EXEMPT_NETWORKS: usize = 50;
/// The shortest prefix an exempt network may have: a /1 is half of all addresses.
pub use proto::login::MIN_EXEMPT_PREFIX;
/// Break-glass codes issued at once; a new set replaces the unused rest of the old one.
pub const BREAK_GLASS_CODES: usize = 10;
/// The most offline logins one report may carry.
pub const MAX_OFFLINE_REPORT: usize = 500;

/// A server's login settings; a server that never had any gets the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginSettings {
    pub fail_mode: FailMode,
    pub allow_unenrolled: bool,
    pub exempt_accounts: Vec<String>,
    pub exempt_networks: Vec<Network>,
}

impl LoginSettings {
    fn from_row(r: &login_settings::Model) -> Self {
        let accounts: Vec<String> = serde_json::from_str(&r.exempt_accounts).unwrap_or_default();
        let networks: Vec<String> = serde_json::from_str(&r.exempt_networks).unwrap_or_default();
        Self {
            fail_mode: r.fail_mode,
            allow_unenrolled: r.allow_unenrolled,
            exempt_accounts: accounts,
            exempt_networks: networks.iter().filter_map(|n| Network::parse(n)).collect(),
        }
    }

    /// Why a login to `account` from `source_ip` needs no second factor, if it does not.
    pub fn exemption(&self, account: &str, source_ip: &str) -> Option<String> {
        Some(match exempt::exemption(&self.exempt_accounts, &self.exempt_networks, account, source_ip)? {
            exempt::Exemption::Account => format!("exempt account {account}"),
            exempt::Exemption::Network(n) => format!("exempt network {n}"),
        })
    }
}

pub(super) async fn of<C: ConnectionTrait>(conn: &C, server_id: Uuid) -> DomainResult<LoginSettings> {
    Ok(login_settings::Entity::find_by_id(server_id)
        .one(conn)
        .await?
        .map(|r| LoginSettings::from_row(&r))
        .unwrap_or_default())
}

/// A server's login settings, for its tenant's admin.
pub async fn get(ctx: &Ctx, caller: &Caller, server_id: Uuid) -> DomainResult<LoginSettings> {
    let s = crate::servers::get(ctx, caller, server_id).await?;
    of(&ctx.db, s.id).await
}

/// A change of a server's login settings, as typed.
#[derive(Clone, Debug, Default)]
pub struct SettingsChange {
    pub fail_mode: String,
    pub allow_unenrolled: bool,
    pub exempt_accounts: Vec<String>,
    /// CIDR networks; a bare address means that address alone.
    pub exempt_networks: Vec<String>,
}

fn validate(change: &SettingsChange) -> DomainResult<(FailMode, Vec<String>, Vec<Network>)> {
    let mut errors = vec![];
    let fail_mode = FailMode::parse(change.fail_mode.trim());
    if fail_mode.is_none() {
        errors.push(FieldError::new("fail_mode", "must be secure or safe"));
    }
    let mut accounts: Vec<String> = vec![];
    for (i, a) in change.exempt_accounts.iter().map(|a| a.trim()).filter(|a| !a.is_empty()).enumerate() {
        match AccountName::parse(a) {
            Ok(a) if !accounts.iter().any(|x| x == a.as_str()) => accounts.push(a.into_inner()),
            Ok(_) => {}
            Err(rule) => errors.push(FieldError::new(format!("exempt_accounts[{i}]"), format!("{a:?} {rule}"))),
        }
    }
    if accounts.len() > MAX_EXEMPT_ACCOUNTS {
        errors.push(FieldError::new("exempt_accounts", format!("at most {MAX_EXEMPT_ACCOUNTS} accounts")));
    }
    let mut networks: Vec<Network> = vec![];
    for (i, n) in change.exempt_networks.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).enumerate() {
        match Network::parse_typed(n) {
            Some(net) if net.prefix_len() == 0 => errors.push(FieldError::new(
                format!("exempt_networks[{i}]"),
                format!("{n:?} would exempt every address; 2FA would protect nothing"),
            )),
            Some(net) if net.prefix_len() < MIN_EXEMPT_PREFIX => errors.push(FieldError::new(
                format!("exempt_networks[{i}]"),
                format!("{n:?} would exempt half of all addresses; a network must be /{MIN_EXEMPT_PREFIX} or smaller"),
            )),
            Some(net) if !networks.contains(&net) => networks.push(net),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("exempt_networks[{i}]"),
                format!("{n:?} must be a network in CIDR form, such as 10.0.0.0/8 or 2001:db8::/32, or one address"),
            )),
        }
    }
    if networks.len() > MAX_EXEMPT_NETWORKS {
        errors.push(FieldError::new("exempt_networks", format!("at most {MAX_EXEMPT_NETWORKS} networks")));
    }
    // Networks that are each fine can together cover a whole address family (0.0.0.0/2,
    // 64.0.0.0/2, 128.0.0.0/1 …); merged, that is a /0.
    for family in exempt::families_covered(&networks) {
        errors.push(FieldError::new(
            "exempt_networks",
            format!("together these networks exempt every {} address; 2FA would protect nothing", family.label()),
        ));
    }
    match fail_mode {
        Some(m) if errors.is_empty() => Ok((m, accounts, networks)),
        _ => Err(DomainError::Invalid(errors)),
    }
}

/// Saves a server's login settings; every change is audited.
pub async fn update(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    server_id: Uuid,
    change: &SettingsChange,
) -> DomainResult<LoginSettings> {
    let s = crate::servers::get(ctx, caller, server_id).await?;
    let (fail_mode, accounts, networks) = validate(change)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    // Changes one after the other, so each audit entry's "before" is what the last one saved.
    crate::two_factor::lock_servers(&txn, &[s.id]).await?;
    let before = of(&txn, s.id).await?;
    let nets: Vec<String> = networks.iter().map(ToString::to_string).collect();
    let row = login_settings::ActiveModel {
        server_id: Set(s.id),
        tenant_id: Set(s.tenant_id),
        fail_mode: Set(fail_mode),
        allow_unenrolled: Set(change.allow_unenrolled),
        exempt_accounts: Set(serde_json::to_string(&accounts).unwrap_or_else(|_| "[]".into())),
        exempt_networks: Set(serde_json::to_string(&nets).unwrap_or_else(|_| "[]".into())),
        updated_at: Set(now),
    };
    login_settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(login_settings::Column::ServerId)
                .update_columns([
                    login_settings::Column::FailMode,
                    login_settings::Column::AllowUnenrolled,
                    login_settings::Column::ExemptAccounts,
                    login_settings::Column::ExemptNetworks,
                    login_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let after = LoginSettings {
        fail_mode,
        allow_unenrolled: change.allow_unenrolled,
        exempt_accounts: accounts,
        exempt_networks: networks,
    };
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(s.tenant_id),
            action: AuditAction::LoginSettings,
            target: s.name.clone(),
            detail: describe_change(&before, &after),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

fn describe_change(before: &LoginSettings, after: &LoginSettings) -> String {
    let list = |v: &[String]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
    let nets = |v: &[Network]| list(&v.iter().map(ToString::to_string).collect::<Vec<_>>());
    format!(
        "fail mode {} → {}; unenrolled accounts {} → {}; exempt accounts {} → {}; exempt networks {} → {}",
        before.fail_mode,
        after.fail_mode,
        if before.allow_unenrolled { "allowed" } else { "refused" },
        if after.allow_unenrolled { "allowed" } else { "refused" },
        list(&before.exempt_accounts),
        list(&after.exempt_accounts),
        nets(&before.exempt_networks),
        nets(&after.exempt_networks),
    )
}

pub use proto::login::normalize_break_glass;

/// Issues a new set of break-glass codes for a server, shown once; the unused codes of the
/// previous set stop working. The agent gets their hashes with its next policy fetch.
pub async fn issue_break_glass(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    server_id: Uuid,
) -> DomainResult<Vec<String>> {
    let s = crate::servers::get(ctx, caller, server_id).await?;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    // One set at a time per server: without the lock, sets issued at once on PostgreSQL each
    // delete only what was committed before them, and all of them stay valid.
    crate::two_factor::lock_servers(&txn, &[s.id]).await?;
    break_glass_code::Entity::delete_many()
        .filter(break_glass_code::Column::ServerId.eq(s.id))
        .filter(break_glass_code::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let mut codes = Vec::with_capacity(BREAK_GLASS_CODES);
    for _ in 0..BREAK_GLASS_CODES {
        let raw: String = (0..20).map(|_| ALPHABET[rand::rngs::OsRng.gen_range(0..ALPHABET.len())] as char).collect();
        let shown =
            raw.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-");
        break_glass_code::Entity::insert(break_glass_code::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(s.tenant_id),
            server_id: Set(s.id),
            sha256: Set(crate::tokens::hash_token(&raw)),
            created_at: Set(now),
            used_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        codes.push(shown);
    }
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(s.tenant_id),
            action: AuditAction::LoginBreakGlassIssued,
            target: s.name.clone(),
            detail: format!("{BREAK_GLASS_CODES} new break-glass codes; the unused earlier ones no longer work"),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(codes)
}

/// How many break-glass codes of a server are unused, and when the set was issued.
pub async fn break_glass_status(
    ctx: &Ctx,
    caller: &Caller,
    server_id: Uuid,
) -> DomainResult<(usize, Option<DateTime<Utc>>)> {
    let s = crate::servers::get(ctx, caller, server_id).await?;
    let unused = break_glass_code::Entity::find()
        .filter(break_glass_code::Column::ServerId.eq(s.id))
        .filter(break_glass_code::Column::UsedAt.is_null())
        .order_by_desc(break_glass_code::Column::CreatedAt)
        .all(&ctx.db)
        .await?;
    Ok((unused.len(), unused.first().map(|c| c.created_at)))
}

/// What the agent of `s` needs to decide logins alone.
pub async fn policy(ctx: &Ctx, s: &server::Model) -> DomainResult<LoginPolicy> {
    let settings = of(&ctx.db, s.id).await?;
    let codes = break_glass_code::Entity::find()
        .filter(break_glass_code::Column::ServerId.eq(s.id))
        .filter(break_glass_code::Column::UsedAt.is_null())
        .all(&ctx.db)
        .await?;
    Ok(LoginPolicy {
        fail_mode: settings.fail_mode,
        exempt_accounts: settings.exempt_accounts,
        exempt_networks: settings.exempt_networks.iter().map(ToString::to_string).collect(),
        break_glass: codes.into_iter().map(|c| BreakGlassHash { id: c.id, sha256: c.sha256 }).collect(),
    })
}

/// The result each offline reason goes with, and how the audit says it.
fn offline_reason(reason: LoginReason) -> (LoginResult, &'static str) {
    use LoginResult::{Allowed, Denied};
    match reason {
        LoginReason::BreakGlass => (Allowed, "break-glass code used while the console was unreachable"),
        LoginReason::FailSafe => (Allowed, "console unreachable; allowed by fail mode safe"),
        LoginReason::FailSecure => (Denied, "console unreachable; denied by fail mode secure"),
        LoginReason::ExemptAccount => (Allowed, "console unreachable; exempt account"),
        LoginReason::ExemptNetwork => (Allowed, "console unreachable; exempt network"),
        LoginReason::BreakGlassWrong => (Denied, "console unreachable; wrong break-glass code"),
        LoginReason::FailSafeLimited => {
            (Denied, "console unreachable; denied: too many logins let in by fail mode safe for this account or source")
        }
    }
}

/// How the audit words an offline reason the agent reports.
pub fn offline_reason_text(reason: LoginReason) -> &'static str {
    offline_reason(reason).1
}

/// Offline logins one server may report in [`OFFLINE_WINDOW_HOURS`]: as many as its agent
/// queues, so a full queue drains in a day, and a bound on the rows one agent can add.
pub const OFFLINE_ROWS_PER_SERVER: i64 = 10_000;
pub const OFFLINE_WINDOW_HOURS: i64 = 24;

/// Counts `new` offline rows of server `s` against its cap, or refuses (429, so the agent keeps
/// them and retries later). Called inside the report's write transaction, with the server
/// locked on PostgreSQL, so concurrent reports add up.
async fn count_offline_rows(
    txn: &sea_orm::DatabaseTransaction,
    s: &server::Model,
    new: i64,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    use crate::entities::agent_guard;
    let guard = agent_guard::Entity::find_by_id(s.id).one(txn).await?;
    let window = guard.as_ref().and_then(|g| g.offline_window_start.map(|at| (at, g.offline_rows_in_window)));
    let (start, used) = match window {
        Some((at, used)) if at > now - Duration::hours(OFFLINE_WINDOW_HOURS) => (at, used),
        _ => (now, 0),
    };
    if used + new > OFFLINE_ROWS_PER_SERVER {
        let ends = start + Duration::hours(OFFLINE_WINDOW_HOURS);
        return Err(DomainError::RateLimited(format!(
            "this server reported {used} offline logins since {}; at most {OFFLINE_ROWS_PER_SERVER} are taken in \
             {OFFLINE_WINDOW_HOURS} hours (this report has {new} new ones). Keep them and send them again after {}, \
             in smaller reports",
            start.format("%Y-%m-%d %H:%M UTC"),
            ends.format("%Y-%m-%d %H:%M UTC"),
        )));
    }
    if new == 0 {
        return Ok(());
    }
    let row = agent_guard::ActiveModel {
        server_id: Set(s.id),
        tenant_id: Set(s.tenant_id),
        credential_rejected_at: Set(guard.and_then(|g| g.credential_rejected_at)),
        offline_window_start: Set(Some(start)),
        offline_rows_in_window: Set(used + new),
    };
    agent_guard::Entity::insert(row)
        .on_conflict(
            OnConflict::column(agent_guard::Column::ServerId)
                .update_columns([agent_guard::Column::OfflineWindowStart, agent_guard::Column::OfflineRowsInWindow])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// How far back an offline login may be dated.
const OFFLINE_MAX_AGE_DAYS: i64 = 30;

/// Records logins the agent of `s` decided alone while the console was unreachable. Reports
/// are idempotent: a login already recorded (same id) is skipped, so an agent may resend.
pub async fn report_offline(ctx: &Ctx, s: &server::Model, report: &OfflineReport) -> DomainResult<usize> {
    if report.logins.len() > MAX_OFFLINE_REPORT {
        return Err(DomainError::validation("logins", format!("at most {MAX_OFFLINE_REPORT} logins per report")));
    }
    let now = ctx.clock.now();
    let mut errors = vec![];
    let mut rows = vec![];
    for (i, l) in report.logins.iter().enumerate() {
        let field = |f: &str| format!("logins[{i}].{f}");
        let at = DateTime::parse_from_rfc3339(&l.at).map(|t| t.with_timezone(&Utc));
        let at = match at {
            // A server clock running ahead (likely during the outage itself) must not lose the
            // record: it is dated now.
            Ok(t) if t > now => now,
            Ok(t) if t >= now - Duration::days(OFFLINE_MAX_AGE_DAYS) => t,
            Ok(_) => {
                errors
                    .push(FieldError::new(field("at"), format!("must be within the last {OFFLINE_MAX_AGE_DAYS} days")));
                continue;
            }
            Err(_) => {
                errors.push(FieldError::new(field("at"), "must be an RFC 3339 time"));
                continue;
            }
        };
        let start = proto::login::LoginStart {
            account: l.account.clone(),
            source_ip: l.source_ip.clone(),
            service: l.service.clone(),
            tty: String::new(),
            ..Default::default()
        };
        if let Err(DomainError::Invalid(e)) = super::validate_start(&start) {
            errors.extend(e.into_iter().map(|e| FieldError::new(field(&e.field), e.message)));
            continue;
        }
        let reason = match &l.reason {
            MaybeKnown::Known(r) => match offline_reason(*r) {
                (result, text) if result == l.result => text,
                _ => {
                    errors.push(FieldError::new(field("result"), format!("does not go with reason {r}")));
                    continue;
                }
            },
            MaybeKnown::Unknown(_) => {
                errors.push(FieldError::new(field("reason"), "is not a reason an agent reports"));
                continue;
            }
        };
        rows.push((l, at, reason));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::two_factor::lock_servers(&txn, &[s.id]).await?;
    // A resent login is not counted again.
    let ids: Vec<Uuid> = rows.iter().map(|(l, _, _)| l.id).collect();
    let known: std::collections::HashSet<Uuid> = server_login::Entity::find()
        .select_only()
        .column(server_login::Column::Id)
        .filter(server_login::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let new = ids.iter().collect::<std::collections::HashSet<_>>().into_iter().filter(|id| !known.contains(id)).count();
    count_offline_rows(&txn, s, new as i64, now).await?;
    let mut recorded = 0;
    for (l, at, reason) in rows {
        let inserted = server_login::Entity::insert(server_login::ActiveModel {
            id: Set(l.id),
            tenant_id: Set(s.tenant_id),
            server_id: Set(s.id),
            server_name: Set(s.name.clone()),
            account: Set(l.account.clone()),
            source_ip: Set(l.source_ip.clone()),
            source_block: Set(crate::accounts::source_block(&l.source_ip)),
            service: Set(l.service.clone()),
            method: Set(server_login::LoginMethod::None),
            number: Set(0),
            stage: Set(server_login::Stage::Done),
            code_hash: Set(None),
            code_sent_at: Set(None),
            code_expires_at: Set(None),
            attempts: Set(0),
            result: Set(Some(l.result)),
            reason: Set(reason.to_owned()),
            offline: Set(true),
            end_user_id: Set(None),
            created_at: Set(at),
            finished_at: Set(Some(at)),
        })
        .on_conflict(OnConflict::column(server_login::Column::Id).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            continue;
        }
        recorded += 1;
        if let (Some(code_id), LoginResult::Allowed) = (l.break_glass_id, l.result) {
            let spent = break_glass_code::Entity::update_many()
                .col_expr(break_glass_code::Column::UsedAt, sea_orm::sea_query::Expr::value(at))
                .filter(break_glass_code::Column::Id.eq(code_id))
                .filter(break_glass_code::Column::ServerId.eq(s.id))
                .filter(break_glass_code::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
            if spent.rows_affected == 0 {
                // Not one of this server's unused codes: nothing to say in the audit trail.
                continue;
            }
            audit::record(
                &txn,
                now,
                &Actor::new(format!("agent on {}", s.name), ""),
                Entry {
                    tenant_id: Some(s.tenant_id),
                    action: AuditAction::LoginBreakGlassUsed,
                    target: s.name.clone(),
                    detail: format!("{} from {} at {}", l.account, l.source_ip, at.to_rfc3339()),
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions_are_worded_for_the_audit() {
        // The rules themselves are proto::exempt's, tested there.
        let s = LoginSettings {
            exempt_accounts: vec!["backup".into()],
            exempt_networks: ["10.1.0.0/16", "2001:db8::/32"].iter().map(|n| Network::parse(n).unwrap()).collect(),
            ..Default::default()
        };
        assert_eq!(s.exemption("backup", "203.0.113.9").as_deref(), Some("exempt account backup"));
        assert_eq!(s.exemption("root", "10.1.200.3").as_deref(), Some("exempt network 10.1.0.0/16"));
        assert_eq!(s.exemption("root", "2001:db8::1").as_deref(), Some("exempt network 2001:db8::/32"));
        assert_eq!(s.exemption("root", "10.2.0.1"), None);
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let ok = SettingsChange {
            fail_mode: "safe".into(),
            exempt_accounts: vec!["backup".into(), " ".into(), "backup".into()],
            exempt_networks: vec!["10.1.2.3/16".into(), "192.0.2.7".into()],
            ..Default::default()
        };
        let (mode, accounts, nets) = validate(&ok).unwrap();
        assert_eq!(mode, FailMode::Safe);
        assert_eq!(accounts, ["backup"]);
        assert_eq!(nets.iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.1.0.0/16", "192.0.2.7/32"]);
        let bad = SettingsChange {
            fail_mode: "open".into(),
            exempt_accounts: vec!["-rf".into()],
            exempt_networks: vec!["0.0.0.0/0".into(), "10.0.0.0/33".into()],
            ..Default::default()
        };
        let Err(DomainError::Invalid(errors)) = validate(&bad) else { panic!("accepted") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["fail_mode", "exempt_accounts[0]", "exempt_networks[0]", "exempt_networks[1]"]);
    }

    #[test]
    fn networks_of_half_the_addresses_or_together_all_are_refused() {
        let refused = |nets: &[&str]| {
            let change = SettingsChange {
                fail_mode: "safe".into(),
                exempt_networks: nets.iter().map(|n| (*n).to_owned()).collect(),
                ..Default::default()
            };
            match validate(&change) {
                Err(DomainError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
                Ok(_) => vec![],
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(refused(&["0.0.0.0/1"]), ["exempt_networks[0]"]);
        assert_eq!(refused(&["10.0.0.0/8", "8000::/1"]), ["exempt_networks[1]"]);
        assert_eq!(refused(&["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"]), ["exempt_networks"]);
        assert_eq!(refused(&["::/2", "4000::/2", "8000::/2", "c000::/2"]), ["exempt_networks"]);
        let three_quarters = ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "::/2"];
        assert!(refused(&three_quarters).is_empty(), "three quarters is the admin's call");
        assert!(refused(&["10.0.0.0/8", "fc00::/7", "192.0.2.7"]).is_empty());
    }

    #[test]
    fn fail_safe_limited_is_a_denial_in_words() {
        assert_eq!(offline_reason(LoginReason::FailSafeLimited).0, LoginResult::Denied);
        assert!(offline_reason_text(LoginReason::FailSafeLimited).contains("too many"));
        assert_eq!(offline_reason(LoginReason::FailSafe).0, LoginResult::Allowed);
    }

    #[test]
    fn break_glass_codes_are_compared_as_typed_loosely() {
        assert_eq!(normalize_break_glass("abcde-fghij 23456-kmnpq"), "ABCDEFGHIJ23456KMNPQ");
    }
}
