//! Host Security → Installation & Configuration → Two-Factor Authentication: the servers with
//! their 2FA status, filters, batch and per-row Enable / Disable / Change Topic through one
//! dialog, cancel and retry, live status, and the agent install command.

mod dialog;
mod install;
mod table;

use self::{
    dialog::{ChangeDialog, ChangeOutcome},
    install::InstallAgent,
    table::ServerTable,
};
use crate::{
    components::{
        filters::encode,
        layout::RegionState,
        poll::poll_every,
        status::{Loaded, PageHeader},
        urn::LastCopied,
    },
    functions::two_factor::{list_two_factor, CancelTwoFactor, RetryTwoFactor, SaveTwoFactor},
    models::{
        two_factor::{ChangeAction, TwoFactorQuery},
        AppError, ChangeResult, TwoFactorRow, Uuid,
    },
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    hooks::{use_navigate, use_query_map},
    NavigateOptions,
};
use std::{collections::BTreeMap, time::Duration};

const PATH: &str = "/hss/two-factor";
const PAGE_SIZES: [u64; 4] = [10, 20, 50, 100];
/// The filters the URL carries, in the order it lists them; the page number comes last.
const FILTERS: [&str; 7] = ["search", "status", "os", "method", "sort", "size", "region"];
type Options = &'static [(&'static str, &'static str)];
const STATUSES: Options = &[
    ("", "All"),
    ("enabled", "Enabled"),
    ("disabled", "Disabled"),
    ("enabling", "Enabling"),
    ("disabling", "Disabling"),
    ("failed", "Failed"),
];
const OSES: Options = &[("", "All"), ("linux", "Linux"), ("windows", "Windows")];
const METHODS: Options = &[("", "All"), ("sms", "SMS/Email"), ("code", "Verification code")];
const SORTS: Options = &[("name", "Name A–Z"), ("-name", "Name Z–A"), ("os", "OS"), ("status", "2FA Status")];

#[derive(Clone, Debug)]
struct Dialog {
    action: ChangeAction,
    rows: Vec<TwoFactorRow>,
}

/// What the page shares with its parts. The list is keyed on the actions' versions, so it
/// loads again after each save, cancel and retry.
#[derive(Clone, Copy)]
struct TabState {
    selected: RwSignal<BTreeMap<Uuid, TwoFactorRow>>,
    dialog: RwSignal<Option<Dialog>>,
    save: ServerAction<SaveTwoFactor>,
    cancel: ServerAction<CancelTwoFactor>,
    retry: ServerAction<RetryTwoFactor>,
    /// The console's apply delay, from the last list.
    delay_secs: RwSignal<Option<i64>>,
}

impl TabState {
    fn open(&self, action: ChangeAction, rows: Vec<TwoFactorRow>) {
        if !rows.is_empty() {
            // The dialog shows this save's outcome, not the last one's.
            self.save.value().set(None);
            self.dialog.set(Some(Dialog { action, rows }));
        }
    }
}

/// `?search=web&status=enabled`: the non-empty values only, in the order given.
fn query_string(values: &[(&str, String)]) -> String {
    let parts: Vec<String> =
        values.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| format!("{k}={}", encode(v.trim()))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The tab's URL with every filter of `get`, `key` set to `value`, and `page` (1 is left out).
fn tab_href(get: impl Fn(&str) -> String, key: &str, value: &str, page: u64) -> String {
    let mut values: Vec<(&str, String)> =
        FILTERS.iter().map(|k| (*k, if *k == key { value.to_owned() } else { get(k) })).collect();
    // The defaults say nothing.
    values.retain(|(k, v)| !(*k == "size" && v == "10" || *k == "sort" && v == "name"));
    if page > 1 {
        values.push(("page", page.to_string()));
    }
    format!("{PATH}{}", query_string(&values))
}

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok()).filter(|p| *p > 0).unwrap_or(1);
    let size = move || {
        query.read().get("size").and_then(|p| p.parse::<u64>().ok()).filter(|s| PAGE_SIZES.contains(s)).unwrap_or(10)
    };
    let region = expect_context::<RegionState>().0;
    let state = TabState {
        selected: RwSignal::new(BTreeMap::new()),
        dialog: RwSignal::new(None),
        save: ServerAction::new(),
        cancel: ServerAction::new(),
        retry: ServerAction::new(),
        delay_secs: RwSignal::new(None),
    };
    // The rows redraw every 2 s; "Copied" stays.
    provide_context(LastCopied(RwSignal::new(None)));
    let navigate = use_navigate();
    // A filter applies as soon as it changes, on the first page of the new view. Typing and
    // the region replace the history entry, so Back is not a trap of half-typed searches.
    let go = move |key: &str, value: &str, replace: bool| {
        let href = tab_href(|k| query.read_untracked().get(k).unwrap_or_default(), key, value, 1);
        navigate(&href, NavigateOptions { scroll: false, replace, ..Default::default() });
    };
    // The region lives in the top bar; the URL carries it too, so a shared link shows the
    // same servers. A region in the URL wins when the page opens.
    Effect::new(move |_| {
        if let Some(r) = query.read().get("region") {
            if region.get_untracked() != r {
                region.set(r);
            }
        }
    });
    Effect::new({
        let go = go.clone();
        move |first: Option<()>| {
            let chosen = region.get();
            let in_url = query.read_untracked().get("region");
            let opening_with_region = first.is_none() && in_url.is_some();
            if !opening_with_region && in_url.unwrap_or_default() != chosen {
                go("region", &chosen, true);
            }
        }
    });
    let servers = Resource::new(
        move || {
            let query = TwoFactorQuery {
                search: param("search"),
                status: param("status"),
                os_type: param("os"),
                method: param("method"),
                sort: param("sort"),
                region: region.get(),
                page: page(),
                page_size: size(),
            };
            (state.save.version().get(), state.cancel.version().get(), state.retry.version().get(), query)
        },
        |(_, _, _, query)| list_two_factor(query),
    );
    Effect::new(move |_| {
        if let Some(Ok(p)) = servers.get() {
            state.delay_secs.set(Some(p.apply_delay_secs));
        }
    });
    // Statuses move on their own (the delay runs out, agents acknowledge): look again every 2 s.
    poll_every(Duration::from_secs(2), move || servers.refetch());
    // The message above the list: the newest cancel, retry, or save that left nothing refused
    // (a save with refusals keeps its dialog open and shows them there).
    let outcome = RwSignal::new(None::<Result<ChangeResult, AppError>>);
    Effect::new(move |_| {
        if let Some(r) = state.cancel.value().get() {
            outcome.set(Some(r));
        }
    });
    Effect::new(move |_| {
        if let Some(r) = state.retry.value().get() {
            outcome.set(Some(r));
        }
    });
    Effect::new(move |_| {
        let Some(r) = state.save.value().get() else { return };
        if r.is_ok() {
            state.selected.set(BTreeMap::new());
        }
        if matches!(&r, Ok(c) if c.refused.is_empty()) {
            state.dialog.set(None);
            outcome.set(Some(r));
        }
    });
    // A new page or filter starts a new selection.
    Effect::new(move |_| {
        let _ = (param("search"), param("status"), param("os"), param("method"), page(), size(), region.get());
        state.selected.set(BTreeMap::new());
    });

    let open = move |action: ChangeAction| state.open(action, state.selected.get_untracked().into_values().collect());
    let none_selected = move || state.selected.read().is_empty();
    let select = {
        let go = go.clone();
        move |name: &'static str, label: &'static str, options: Options, default: &'static str| {
            let go = go.clone();
            let current = move || Some(param(name)).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned());
            view! {
                <label class="inline-field">
                    {label}
                    <select name=name on:change=move |ev| go(name, &event_target_value(&ev), false)>
                        {options
                            .iter()
                            .map(|(v, t)| {
                                let on = move || current() == *v;
                                view! {
                                    <option value=*v selected=on prop:selected=on>
                                        {*t}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
            }
        }
    };
    // Typing searches once the typing pauses.
    let typing = StoredValue::new(None::<TimeoutHandle>);
    let search_now = {
        let go = go.clone();
        move |value: String| {
            if let Some(h) = typing.get_value() {
                h.clear();
            }
            if value.trim() != param("search").trim() {
                go("search", &value, true);
            }
        }
    };
    let on_input = {
        let search_now = search_now.clone();
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            let search_now = search_now.clone();
            if let Some(h) = typing.get_value() {
                h.clear();
            }
            typing.set_value(set_timeout_with_handle(move || search_now(value), Duration::from_millis(400)).ok());
        }
    };
    let search_box = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(input) = search_box.get() {
            search_now(input.value());
        }
    };

    view! {
        <Title text="Two-Factor Authentication" />
        <PageHeader title="Two-Factor Authentication" crumbs=&["Host Security", "Installation & Configuration"]>
            <p>
                "Two-factor authentication asks everyone who logs in to a server for a verification code after their password. "
                "Servers appear here when their agent registers."
            </p>
        </PageHeader>
        <InstallAgent />
        <section class="panel">
            <form method="GET" action=PATH on:submit=on_submit aria-label="Filter servers">
                <div class="toolbar">
                    <label class="search">
                        <span class="visually-hidden">"Search by server name or IP address"</span>
                        // Set once: the box keeps what is typed while the list catches up.
                        <input
                            type="search"
                            name="search"
                            node_ref=search_box
                            placeholder="Search by server name or IP address"
                            value=param("search")
                            on:input=on_input
                        />
                    </label>
                    {select("status", "2FA Status", STATUSES, "")}
                    {select("os", "OS", OSES, "")}
                    {select("method", "Method", METHODS, "")}
                    {select("sort", "Sort", SORTS, "name")}
                    <label class="inline-field">
                        "Per page"
                        <select name="size" on:change=move |ev| go("size", &event_target_value(&ev), false)>
                            {PAGE_SIZES
                                .iter()
                                .map(|s| {
                                    view! {
                                        <option value=s.to_string() selected=move || size() == *s prop:selected=move || size() == *s>
                                            {s.to_string()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    // Searches at once; typing searches anyway once it pauses.
                    <button type="submit" class="button button-secondary">
                        "Search"
                    </button>
                </div>
            </form>
            <div class="toolbar batch-bar" role="group" aria-label="Batch actions">
                <button
                    id="batch-enable"
                    class="button button-primary"
                    disabled=none_selected
                    on:click=move |_| open(ChangeAction::Enable)
                >
                    "Enable 2FA"
                </button>
                <button
                    id="batch-disable"
                    class="button button-secondary"
                    disabled=none_selected
                    on:click=move |_| open(ChangeAction::Disable)
                >
                    "Disable 2FA"
                </button>
                <button
                    id="batch-topic"
                    class="button button-secondary"
                    disabled=none_selected
                    on:click=move |_| open(ChangeAction::ChangeTopic)
                >
                    "Change Topic"
                </button>
                <span class="muted small" aria-live="polite">
                    {move || match state.selected.read().len() {
                        0 => "Select servers to change several at once.".to_owned(),
                        n => format!("{n} selected"),
                    }}
                </span>
            </div>
            <ChangeOutcome value=outcome.into() />
            <Loaded
                resource=servers
                ok=move |page| {
                    let search = param("search");
                    view! { <ServerTable page search state /> }
                }
            />
        </section>
        {move || state.dialog.get().map(|d| view! { <ChangeDialog dialog=d state /> })}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_url_carries_every_filter_and_nothing_empty() {
        let url = |q: &'static [(&'static str, &'static str)], key: &str, value: &str, page: u64| {
            let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default();
            super::tab_href(get, key, value, page)
        };
        assert_eq!(url(&[], "status", "", 1), "/hss/two-factor");
        assert_eq!(
            url(&[("search", "web 01"), ("os", "linux"), ("region", "eu-west-101")], "status", "failed", 1),
            "/hss/two-factor?search=web%2001&status=failed&os=linux&region=eu-west-101"
        );
        // A changed filter leaves the page; the pager keeps the filters; defaults are left out.
        assert_eq!(
            url(&[("status", "enabled"), ("sort", "-name"), ("page", "3")], "size", "50", 2),
            "/hss/two-factor?status=enabled&sort=-name&size=50&page=2"
        );
        assert_eq!(url(&[("sort", "name"), ("size", "10")], "status", "", 1), "/hss/two-factor");
    }
}
