//! The 2FA tab's list finds its page in more than one way (`domain::two_factor::list`): the
//! first entries of the name index, a bounded walk in name order (from the first match's name,
//! found with the count, for a search in name order), the matches gathered,
//! counted and sorted in one statement (PostgreSQL), or the database's own plan; it counts
//! status filters from the configurations alone. Whichever way it takes, each filtered page and its total are the
//! unfiltered list in the same order with the others left out.

use crate::common::*;
use app::functions::two_factor::ListTwoFactor;
use app::models::two_factor::TwoFactorQuery;
use app::models::{TwoFactorPage, TwoFactorRow, TwoFactorStatus};
use domain::{
    entities::{server, two_factor_config as config},
    rollout::FailureKind,
};
use proto::{Method, OsType};
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::collections::HashMap;

/// The 2FA configuration a fixture server gets, and the status the tab shows for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    None,
    Enabling,
    Disabling,
    Failed,
    Enabled,
    Disabled,
    CanceledFirstEnable,
}

impl Kind {
    fn status(self) -> &'static str {
        match self {
            Kind::None | Kind::Disabled | Kind::CanceledFirstEnable => "disabled",
            Kind::Enabling => "enabling",
            Kind::Disabling => "disabling",
            Kind::Failed => "failed",
            Kind::Enabled => "enabled",
        }
    }

    /// The method filter's rule: the configuration's method, with its target or what is in
    /// force on (so a canceled first enable counts too).
    fn uses_code(self) -> bool {
        !matches!(self, Kind::None | Kind::Disabled)
    }

    fn config(self, server: &server::ActiveModel, now: chrono::DateTime<chrono::Utc>) -> Option<config::ActiveModel> {
        use config::PhaseName::*;
        // (phase, target enabled, revision, applied revision, applied enabled)
        let (phase, enabled, revision, applied, applied_enabled) = match self {
            Kind::None => return None,
            Kind::Enabling => (Scheduled, true, 1, 0, false),
            Kind::Disabling => (Delivering, false, 2, 1, true),
            Kind::Failed => (Failed, true, 1, 0, false),
            Kind::Enabled => (Applied, true, 1, 1, true),
            Kind::Disabled => (Applied, false, 2, 2, false),
            Kind::CanceledFirstEnable => (Canceled, true, 1, 0, false),
        };
        Some(config::ActiveModel {
            server_id: server.id.clone(),
            tenant_id: server.tenant_id.clone(),
            enabled: Set(enabled),
            method: Set(Method::Code),
            topic_id: Set(None),
            updated_at: Set(now),
            revision: Set(revision),
            phase: Set(phase),
            due_at: Set((phase == Scheduled).then(|| now + chrono::Duration::minutes(10))),
            phase_at: Set(Some(now)),
            failure_reason: Set((phase == Failed).then(|| "sshd refused the drop-in".to_owned())),
            failure_kind: Set((phase == Failed).then_some(FailureKind::AgentError)),
            applied_revision: Set(applied),
            applied_enabled: Set(applied_enabled),
            applied_method: Set(applied_enabled.then_some(Method::Code)),
            applied_topic_id: Set(None),
        })
    }
}

/// One tenant of 1,400 servers named so that `app` sorts first and `web` last, more than the
/// list walks in name order before it gathers the matches instead: 600 `app`, 500 `db`, 300
/// `web`; every fifth one Windows. The configurations of a status sit either among the first
/// servers (`app`: the walk finds them) or among the last (`web`: it does not). Twelve `db`
/// servers (no configuration) share a name.
fn fleet(tenant_id: uuid::Uuid) -> (Vec<server::ActiveModel>, Vec<config::ActiveModel>, HashMap<String, Kind>) {
    let now = chrono::Utc::now();
    let mut servers = ready_servers(tenant_id, "x", 1_400);
    let mut configs = vec![];
    let mut kinds = HashMap::new();
    let web_kinds = [
        Kind::Enabling,
        Kind::Disabling,
        Kind::Failed,
        Kind::Enabled,
        Kind::Disabled,
        Kind::CanceledFirstEnable,
        Kind::None,
    ];
    for (i, s) in servers.iter_mut().enumerate() {
        let (role, n) = match i {
            0..600 => ("app", i),
            600..1_100 => ("db", i - 600),
            _ => ("web", i - 1_100),
        };
        // Twelve servers share one name around where a list of pages of 10 stops its first
        // walk (about 1,040 servers): pages end and walks are bounded between servers of one
        // name, which the server's id orders.
        let name = match i {
            1_034..1_046 => "acme-db-0440".to_owned(),
            _ => format!("acme-{role}-{n:04}"),
        };
        s.name = Set(name.clone());
        if i % 5 == 4 {
            s.os_type = Set(OsType::Windows);
        }
        let kind = match role {
            "app" if n % 12 == 3 => Kind::Enabled,
            "app" if n % 40 == 7 => Kind::Disabling,
            "web" if n < 210 => web_kinds[n % web_kinds.len()],
            _ => Kind::None,
        };
        configs.extend(kind.config(s, now));
        kinds.insert(name, kind);
    }
    (servers, configs, kinds)
}

fn status_of(row: &TwoFactorRow) -> &'static str {
    match row.status {
        TwoFactorStatus::Enabled => "enabled",
        TwoFactorStatus::Disabled => "disabled",
        TwoFactorStatus::Enabling { .. } => "enabling",
        TwoFactorStatus::Disabling { .. } => "disabling",
        TwoFactorStatus::Failed { .. } => "failed",
    }
}

#[derive(Clone, Copy, Default)]
struct Filter {
    search: &'static str,
    status: &'static str,
    os_type: &'static str,
    method: &'static str,
}

impl Filter {
    fn takes(&self, row: &TwoFactorRow, kind: Kind) -> bool {
        let text = self.search.to_lowercase();
        (row.name.to_lowercase().contains(&text) || row.ip.to_lowercase().contains(&text))
            && (self.status.is_empty() || kind.status() == self.status)
            && (self.os_type.is_empty() || row.os_type.as_str() == self.os_type)
            && match self.method {
                "" => true,
                "code" => kind.uses_code(),
                _ => false,
            }
    }
}

async fn page(app: &TestApp, cookie: &str, f: Filter, sort: &str, page: u64, page_size: u64) -> TwoFactorPage {
    let query = TwoFactorQuery {
        search: f.search.into(),
        status: f.status.into(),
        os_type: f.os_type.into(),
        method: f.method.into(),
        sort: sort.into(),
        page,
        page_size,
        ..Default::default()
    };
    app.run(cookie, ListTwoFactor { query }).await
}

async fn every_filtered_page_is_the_whole_list_filtered(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let tenant = app.create_tenant("Acme Retail").await;
    let (servers, configs, kinds) = fleet(tenant.id);
    for chunk in servers.chunks(200) {
        app.insert_servers(chunk.to_vec()).await;
    }
    for chunk in configs.chunks(200) {
        config::Entity::insert_many(chunk.to_vec()).exec_without_returning(&app.ctx.db).await.unwrap();
    }
    // Another tenant's servers with names that match, and configurations of every status:
    // neither its rows nor its configurations count for Acme (Disabled subtracts configurations).
    let other = app.create_tenant("Other").await;
    let mut theirs = ready_servers(other.id, "acme-web", 70);
    let now = chrono::Utc::now();
    let their_kinds = [Kind::Enabling, Kind::Disabling, Kind::Failed, Kind::Enabled, Kind::Disabled, Kind::None];
    let their_configs: Vec<_> =
        theirs.iter_mut().enumerate().filter_map(|(i, s)| their_kinds[i % their_kinds.len()].config(s, now)).collect();
    app.insert_servers(theirs).await;
    config::Entity::insert_many(their_configs).exec_without_returning(&app.ctx.db).await.unwrap();
    let login = tenant.admin(&app, "admin").await;
    let cookie = app.sign_in(login).await;

    let sorts = ["", "-name", "os", "status"];
    let mut whole: HashMap<&str, Vec<TwoFactorRow>> = HashMap::new();
    for sort in sorts {
        let mut rows = vec![];
        for n in 1..=14 {
            let p = page(&app, &cookie, Filter::default(), sort, n, 100).await;
            assert_eq!(p.total, 1_400);
            rows.extend(p.items);
        }
        assert_eq!(rows.len(), 1_400, "sort {sort:?}");
        // The fixture's statuses are the ones the tab shows.
        for row in &rows {
            assert_eq!(status_of(row), kinds[&row.name].status(), "{}", row.name);
        }
        whole.insert(sort, rows);
    }

    let f = |search, status, os_type, method| Filter { search, status, os_type, method };
    let filters = [
        f("web", "", "", ""),
        f("WEB-00", "", "", ""),
        f("app", "", "", ""),
        f("acme-db-04", "", "", ""),
        // Three matches, 600 and 500 servers apart: a walk from the first match (PostgreSQL
        // walks about 1,000) misses the last, and the page must come from the matches.
        f("-0001", "", "", ""),
        // In `-name` order its 100 matches sort after the first walk.
        f("app-00", "", "", ""),
        f("10.0.1.", "", "", ""),
        f("nothing-like-it", "", "", ""),
        f("%", "", "", ""),
        f("_", "", "", ""),
        f("Web-01", "", "", ""),
        f("0.0.5", "", "", ""),
        f("0.5", "disabled", "", ""),
        f("A", "", "", ""),
        f("", "enabling", "", ""),
        f("", "disabling", "", ""),
        f("", "failed", "", ""),
        f("", "enabled", "", ""),
        f("", "disabled", "", ""),
        f("", "", "windows", ""),
        f("", "", "", "code"),
        f("", "", "", "sms"),
        f("", "disabled", "", "code"),
        f("", "enabled", "windows", ""),
        f("web", "disabled", "", ""),
        f("app", "enabled", "linux", "code"),
        f("acme", "disabling", "", ""),
    ];
    for filter in filters {
        for sort in sorts {
            let expected: Vec<(&str, uuid::Uuid)> = whole[sort]
                .iter()
                .filter(|r| filter.takes(r, kinds[&r.name]))
                .map(|r| (r.name.as_str(), r.id))
                .collect();
            let total = expected.len() as u64;
            let last = total.div_ceil(10).max(1);
            // Page 50 of 100 is past every walk (`WALK_MAX`) and past the end.
            for (n, size) in [(1, 10), (2, 10), (last, 10), (last + 1, 10), (2, 100), (9, 100), (50, 100)] {
                let got = page(&app, &cookie, filter, sort, n, size).await;
                let from = ((n - 1) * size).min(total) as usize;
                let to = (n * size).min(total) as usize;
                let names: Vec<(&str, uuid::Uuid)> = got.items.iter().map(|r| (r.name.as_str(), r.id)).collect();
                let what = format!(
                    "search {:?} status {:?} os {:?} method {:?} sort {sort:?} page {n} of {size}",
                    filter.search, filter.status, filter.os_type, filter.method
                );
                assert_eq!(got.total, total, "{what}");
                assert_eq!(names, expected[from..to], "{what}");
            }
        }
    }
}
on_both_databases!(
    every_filtered_page_is_the_whole_list_filtered,
    super::every_filtered_page_is_the_whole_list_filtered
);
