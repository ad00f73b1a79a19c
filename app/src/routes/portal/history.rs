//! The portal's Sign-in history: the end user's own logins to servers (those whose server
//! account is mapped to them), newest first, with how each was proven and how it ended. Filters
//! (result, server, method, dates) live in the URL. Each login is a card, so a phone shows it
//! whole with no sideways scrolling. A login they do not recognise is a reason to tell their
//! administrator.

use crate::{
    components::{
        list::{FilterForm, FilterInput, FilterSelect, ListFilters, ListResults, ListUrl, LoadedSelect},
        status::{Badge, PageHeader},
    },
    functions::history::{history_servers, search_history, HistoryPage, HistoryQuery, HistoryRow},
    models::{utc, Label, ServerChoice, Status},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use proto::login::SignInMethod;

pub(crate) const HISTORY: ListUrl = ListUrl {
    path: "/portal/history",
    keys: &["result", "server", "method", "since", "until", "size"],
    default_size: 20,
    defaults: &[],
};

const RESULTS: &[(&str, &str)] = &[
    ("", "All results"),
    ("allowed", "Allowed"),
    ("denied", "Denied"),
    ("open", "In progress"),
    ("abandoned", "Abandoned"),
];
const METHODS: &[(&str, &str)] = &[
    ("", "All methods"),
    ("push", "Push"),
    ("authenticator", "Authenticator app"),
    ("recovery", "Recovery code"),
    ("sms", "SMS passcode"),
    ("call", "Call me"),
    ("portal_code", "Code from the portal"),
];
const NO_MATCH: &str = "None of your logins match these filters. Clear or widen them to see more.";
const EMPTY: &str = "No logins yet. Each login to a server account that is yours will be listed here.";

/// What a method is called on this page.
pub(crate) fn method_label(m: SignInMethod) -> &'static str {
    METHODS.iter().find(|(v, _)| *v == m.as_str()).map(|(_, t)| *t).unwrap_or("Other")
}

#[component]
pub fn SignInHistoryPage() -> impl IntoView {
    let filters = ListFilters::new(HISTORY);
    let history = resource(
        move || HistoryQuery {
            result: filters.get("result"),
            server: filters.get("server"),
            method: filters.get("method"),
            since: filters.get("since"),
            until: filters.get("until"),
            page: filters.page(),
            page_size: filters.size(),
        },
        search_history,
    );
    let servers = resource(|| (), |_| history_servers());
    view! {
        <Title text="Sign-in history" />
        <PageHeader title="Sign-in history">
            <p>
                "Your logins to your organisation's servers, newest first. Times are UTC. If you see one you did "
                "not make, tell your administrator at once: someone may know the server account's password. "
                <A href="/portal/help#unexpected">"What to do"</A>
            </p>
        </PageHeader>
        <section class="panel history-panel">
            <FilterForm label="Filter your sign-ins" submit="Apply filters" clear=true>
                <FilterSelect name="result" label="Result" options=RESULTS />
                <LoadedSelect name="server" label="Server" all="All servers" options=servers choice=|s: ServerChoice| (s.id.to_string(), s.name) />
                <FilterSelect name="method" label="Method" options=METHODS />
                <FilterInput name="since" label="From (UTC)" kind="date" />
                <FilterInput name="until" label="To (UTC)" kind="date" />
            </FilterForm>
            <ListResults
                resource=history
                rows=|page: HistoryPage| view! { <HistoryCards rows=page.items /> }
                one="login"
                many="logins"
                no_match=NO_MATCH
                empty=EMPTY
            />
        </section>
    }
}

/// The logins as a list of cards.
#[component]
fn HistoryCards(rows: Vec<HistoryRow>) -> impl IntoView {
    view! {
        <ul class="history-list" aria-label="Your logins, newest first">
            {rows
                .into_iter()
                .map(|r| {
                    let how = r.method.map(method_label).unwrap_or("—");
                    view! {
                        <li class="history-item">
                            <div class="history-head">
                                <strong class="history-where">{format!("{} on {}", r.account, r.server)}</strong>
                                <Badge kind=r.result.badge() text=r.result.label().to_owned() />
                            </div>
                            <dl class="history-facts">
                                <dt>"When"</dt>
                                <dd>{utc(r.time)}</dd>
                                <dt>"From"</dt>
                                <dd class="mono">{if r.source_ip.is_empty() { "unknown".to_owned() } else { r.source_ip }}</dd>
                                <dt>"Method"</dt>
                                <dd>{how}</dd>
                                <dt>"Why"</dt>
                                <dd>{r.reason}</dd>
                            </dl>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_a_label_and_the_url_keeps_only_set_filters() {
        for m in SignInMethod::ALL {
            assert_ne!(method_label(*m), "Other", "{m:?}");
        }
        let href = |pairs: &[(&str, &str)], page: u64| {
            HISTORY.href(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default(), page)
        };
        assert_eq!(href(&[("result", "")], 1), "/portal/history");
        assert_eq!(href(&[("method", "push"), ("since", "2026-12-01")], 2), "/portal/history?method=push&since=2026-12-01&page=2");
    }
}
