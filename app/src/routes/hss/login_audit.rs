//! Host Security → Login audit: every login that reached HostGuard on the tenant's servers,
//! newest first. The filters live in the URL, so a reload or a shared link shows the same view.

use crate::{
    components::{
        list::{FilterForm, FilterInput, FilterSelect, ListFilters, ListPage, ListResults, LoadedSelect},
        logins::{LoginTable, LOGIN_AUDIT},
    },
    functions::logins::{list_logins, login_servers},
    models::{LoginAuditPage, LoginAuditQuery, ServerChoice},
};
use crate::components::resource::resource;
use leptos::prelude::*;

const INTRO: &str = concat!(
    "Every login to your servers that reached HostGuard's login module: who logged in to which server, from where, ",
    "how it was verified, and whether it was allowed. Logins a server's agent decided alone while the console ",
    "was unreachable are marked Offline. Times are UTC.",
);
const CAPTION: &str = "Logins, newest first";
const NO_MATCH: &str = "No logins match these filters. Clear or widen them to see more.";
const EMPTY: &str = "No logins yet. Each login to one of your servers that reaches HostGuard's login module will be listed here: \
    when, the server, the account, the source address, how it was verified, and whether it was allowed or denied and why.";
const RESULTS: &[(&str, &str)] =
    &[("", "All"), ("allowed", "Allowed"), ("denied", "Denied"), ("open", "In progress or abandoned")];

#[component]
pub fn LoginAuditPage() -> impl IntoView {
    let filters = ListFilters::new(LOGIN_AUDIT);
    let logins = resource(
        move || LoginAuditQuery {
            server: filters.get("server"),
            account: filters.get("account"),
            result: filters.get("result"),
            since: filters.get("since"),
            until: filters.get("until"),
            reason: filters.get("reason"),
            page: filters.page(),
            page_size: filters.size(),
        },
        list_logins,
    );
    let servers = resource(|| (), |_| login_servers());

    view! {
        <ListPage title="Login audit" crumbs=&["Host Security"] intro=INTRO>
            <FilterForm label="Filter logins" submit="Apply filters" clear=true>
                <LoadedSelect name="server" label="Server" all="All servers" options=servers choice=|s: ServerChoice| (s.id.to_string(), s.name) />
                <FilterInput name="account" label="Account" maxlength="64" placeholder="root" />
                <FilterSelect name="result" label="Result" options=RESULTS />
                <FilterInput name="since" label="Since (UTC)" kind="datetime-local" />
                <FilterInput name="until" label="Until (UTC)" kind="datetime-local" />
            </FilterForm>
            <ListResults resource=logins rows=|page: LoginAuditPage| view! { <LoginTable rows=page.items caption=CAPTION.to_owned() show_server=true /> }
                one="login" many="logins" no_match=NO_MATCH empty=EMPTY />
        </ListPage>
    }
}

#[cfg(test)]
mod tests {
    use crate::components::logins::{server_audit_href, LOGIN_AUDIT};

    #[test]
    fn the_url_carries_only_the_filters_that_are_set() {
        let href = |pairs: &[(&str, &str)], page: u64| {
            LOGIN_AUDIT
                .href(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default(), page)
        };
        assert_eq!(href(&[("server", ""), ("result", "")], 1), "/hss/login-audit");
        assert_eq!(
            href(&[("server", ""), ("result", "denied"), ("account", " ")], 1),
            "/hss/login-audit?result=denied"
        );
        assert_eq!(
            href(&[("account", "web admin"), ("since", "2026-11-26T09:30"), ("size", "50")], 3),
            "/hss/login-audit?account=web%20admin&since=2026-11-26T09%3A30&size=50&page=3"
        );
        assert_eq!(server_audit_href("s-1"), "/hss/login-audit?server=s-1");
    }
}
