//! Host Security → Installation & Configuration → Two-Factor Authentication: the servers with
//! their 2FA status, filters, batch and per-row Enable / Disable / Change Topic through one
//! dialog, cancel and retry, live status, and the agent install command.

use crate::{
    components::{
        dialog::Modal,
        layout::RegionState,
        poll::poll_every,
        status::{Badge, DataTable, FormResult, Loaded, PageHeader},
        urn::{LastCopied, ShortUrn},
    },
    functions::{
        agents::{create_install_command, list_agent_tokens, RevokeAgentToken},
        two_factor::{list_two_factor, usable_topics, CancelTwoFactor, RetryTwoFactor, SaveTwoFactor},
    },
    models::{
        two_factor::{ChangeAction, LoginMethod, TwoFactorQuery},
        AppError, ChangeResult, Method, RefusedServer, TwoFactorPage, TwoFactorRow, TwoFactorState, TwoFactorStatus,
    },
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
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

fn title(action: ChangeAction) -> &'static str {
    match action {
        ChangeAction::Enable => "Enable 2FA",
        ChangeAction::Disable => "Disable 2FA",
        ChangeAction::ChangeTopic => "Change Topic",
    }
}

#[derive(Clone, Debug)]
struct Dialog {
    action: ChangeAction,
    rows: Vec<TwoFactorRow>,
}

/// What the page shares with its parts. The list is keyed on the actions' versions, so it
/// loads again after each save, cancel and retry.
#[derive(Clone, Copy)]
struct TabState {
    selected: RwSignal<BTreeMap<String, TwoFactorRow>>,
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

/// "1 server", "3 servers".
fn servers(n: usize) -> String {
    crate::components::status::count(n as u64, "server", "servers")
}

/// A change's outcome. All done is a success; otherwise each server left alone is listed
/// once with its reasons, as a warning when others changed and as an error when none did.
/// Servers a save skipped (the change would have changed nothing on them) are listed too.
#[component]
fn ChangeOutcome(value: Signal<Option<Result<ChangeResult, AppError>>>) -> impl IntoView {
    let errors = Signal::derive(move || value.get().filter(|r| r.is_err()));
    let skipped = |unchanged: Vec<RefusedServer>| {
        (!unchanged.is_empty()).then(|| {
            view! {
                <p>{format!("{} skipped: nothing to change.", servers(unchanged.len()))}</p>
                <ul class="unchanged">
                    {unchanged
                        .into_iter()
                        .map(|s| {
                            view! {
                                <li data-server=s.name.clone()>
                                    <b>{s.name.clone()}</b>
                                    ": "
                                    {s.reasons.join(" ")}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
        })
    };
    let result = move || match value.get() {
        Some(Ok(r)) if r.refused.is_empty() => view! {
            <div class="form-ok change-outcome" role="status">
                <p>
                    {if r.changed == 0 && !r.unchanged.is_empty() {
                        "No server changed.".to_owned()
                    } else {
                        format!("{} changed.", servers(r.changed))
                    }}
                </p>
                {skipped(r.unchanged)}
            </div>
        }
        .into_any(),
        Some(Ok(r)) => {
            let (class, head) = if r.changed == 0 {
                ("form-error", format!("No server changed: {} refused.", servers(r.refused.len())))
            } else {
                ("notice notice-warn", format!("{} changed, {} refused.", servers(r.changed), servers(r.refused.len())))
            };
            view! {
                <div class=format!("{class} change-outcome") role="alert">
                    <p>{head}</p>
                    <ul>
                        {r
                            .refused
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <li data-server=s.name.clone()>
                                        <b>{s.name.clone()}</b>
                                        ": "
                                        {s.reasons.join(" ")}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    {skipped(r.unchanged)}
                </div>
            }
            .into_any()
        }
        _ => ().into_any(),
    };
    view! {
        {result}
        <FormResult value=errors success=|_: ChangeResult| String::new() />
    }
}

/// "about 5 minutes", "about 3 seconds".
fn about(secs: i64) -> String {
    let (n, unit) = match secs {
        s if s < 60 => (s.max(0), "second"),
        s if s < 3600 => ((s + 30) / 60, "minute"),
        s => ((s + 1800) / 3600, "hour"),
    };
    format!("about {n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// "4:05": minutes and seconds.
fn clock(secs: i64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[component]
fn ServerTable(page: TwoFactorPage, search: String, state: TabState) -> impl IntoView {
    let pages = page.total.div_ceil(page.page_size).max(1);
    let link = {
        let query = use_query_map();
        let size = page.page_size.to_string();
        move |p: u64| tab_href(|k| query.read_untracked().get(k).unwrap_or_default(), "size", &size, p)
    };
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < pages).then(|| link(page.page + 1));
    if page.items.is_empty() {
        return view! {
            <p class="empty">
                {if search.is_empty() {
                    "No servers match.".to_owned()
                } else {
                    format!("No server matches “{search}”.")
                }}
            </p>
        }
        .into_any();
    }
    let all: Vec<TwoFactorRow> = page.items.clone();
    let all_ids: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
    let all_checked = {
        let ids = all_ids.clone();
        move || {
            let sel = state.selected.read();
            !ids.is_empty() && ids.iter().all(|id| sel.contains_key(id))
        }
    };
    let toggle_all = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        state.selected.update(|sel| {
            for r in &all {
                if on {
                    sel.insert(r.id.clone(), r.clone());
                } else {
                    sel.remove(&r.id);
                }
            }
        });
    };
    view! {
        <div class="table-wrap">
            <table class="data-table two-factor-table" aria-label="Protected servers">
                <thead>
                    <tr>
                        <th scope="col" class="check">
                            <input
                                type="checkbox"
                                aria-label="Select all servers on this page"
                                prop:checked=all_checked
                                on:change=toggle_all
                            />
                        </th>
                        <th scope="col">"Protected Server"</th>
                        <th scope="col">"OS"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"2FA Status"</th>
                        <th scope="col">"Method"</th>
                        <th scope="col">"Topic"</th>
                        <th scope="col">"Operation"</th>
                    </tr>
                </thead>
                <tbody>{page.items.into_iter().map(|s| view! { <ServerLine s state /> }).collect_view()}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <span class="pager-total">{format!(
                "{} · page {} of {pages}",
                crate::components::status::count(page.total, "server", "servers"),
                page.page,
            )}</span>
            {pager_link(prev, "Previous", "prev")}
            {pager_link(next, "Next", "next")}
        </nav>
    }
    .into_any()
}

/// A pager button: a link to the page, or a disabled button where there is none.
pub(crate) fn pager_link(href: Option<String>, label: &'static str, rel: &'static str) -> AnyView {
    match href {
        Some(href) => view! {
            <A href=href attr:class="button button-secondary" attr:rel=rel>
                {label}
            </A>
        }
        .into_any(),
        None => view! {
            <span class="button button-secondary" aria-disabled="true">
                {label}
            </span>
        }
        .into_any(),
    }
}

#[component]
fn ServerLine(s: TwoFactorRow, state: TabState) -> impl IntoView {
    let os = if s.os_type == "windows" { "Windows" } else { "Linux" };
    let id = s.id.clone();
    let checked = {
        let id = id.clone();
        move || state.selected.read().contains_key(&id)
    };
    let toggle = {
        let row = s.clone();
        move |ev: leptos::ev::Event| {
            let on = event_target_checked(&ev);
            state.selected.update(|sel| {
                if on {
                    sel.insert(row.id.clone(), row.clone());
                } else {
                    sel.remove(&row.id);
                }
            });
        }
    };
    let status = match &s.status {
        TwoFactorStatus::Enabled => view! { <Badge kind="ok" text="Enabled".into() /> }.into_any(),
        TwoFactorStatus::Enabling { seconds_left } | TwoFactorStatus::Disabling { seconds_left } => {
            let word =
                if matches!(s.status, TwoFactorStatus::Enabling { .. }) { "Enabling…" } else { "Disabling…" };
            let left = if *seconds_left > 0 {
                format!("applies in {}", clock(*seconds_left))
            } else {
                "waiting for the agent".to_owned()
            };
            view! {
                <Badge kind="warn" text=word.into() />
                <div class="muted small">{left}</div>
            }
            .into_any()
        }
        TwoFactorStatus::Failed { reason } => view! {
            <Badge kind="err" text="Failed".into() />
            <div class="small error-text">{reason.clone()}</div>
        }
        .into_any(),
        TwoFactorStatus::Disabled => view! { <Badge kind="muted" text="Disabled".into() /> }.into_any(),
    };
    let method = match s.method {
        Some(Method::Sms) => "SMS/Email",
        Some(Method::Code) => "Verification code",
        None => "--",
    };
    let one = move |action: ChangeAction, row: TwoFactorRow| state.open(action, vec![row]);
    let ops = {
        let row = s.clone();
        let (r1, r2, r3) = (row.clone(), row.clone(), row.clone());
        let (id1, id2) = (row.id.clone(), row.id.clone());
        let (name, cancel_name, retry_name) = (row.name.clone(), row.name.clone(), row.name.clone());
        let state_is = |st: TwoFactorState| s.status.state() == st;
        // Waiting for the delay or for an offline agent: either can be canceled.
        let moving = matches!(s.status, TwoFactorStatus::Enabling { .. } | TwoFactorStatus::Disabling { .. });
        view! {
            <div class="row-actions">
                {(state_is(TwoFactorState::Disabled) || state_is(TwoFactorState::Failed))
                    .then(|| {
                        view! {
                            <button
                                class="link-button"
                                id=format!("enable-{}", r1.id)
                                aria-label=format!("Enable 2FA on {name}")
                                on:click=move |_| one(ChangeAction::Enable, r1.clone())
                            >
                                "Enable"
                            </button>
                        }
                    })}
                {state_is(TwoFactorState::Enabled)
                    .then(|| {
                        view! {
                            <button
                                class="link-button"
                                id=format!("disable-{}", r2.id)
                                aria-label=format!("Disable 2FA on {}", r2.name)
                                on:click=move |_| one(ChangeAction::Disable, r2.clone())
                            >
                                "Disable"
                            </button>
                        }
                    })}
                {(state_is(TwoFactorState::Enabled) && s.method == Some(Method::Sms))
                    .then(|| {
                        view! {
                            <button
                                class="link-button"
                                id=format!("topic-{}", r3.id)
                                aria-label=format!("Change topic for {}", r3.name)
                                on:click=move |_| one(ChangeAction::ChangeTopic, r3.clone())
                            >
                                "Change Topic"
                            </button>
                        }
                    })}
                {moving
                    .then(|| {
                        view! {
                            <ActionForm action=state.cancel>
                                <input type="hidden" name="server_ids[]" value=id1 />
                                <button
                                    type="submit"
                                    class="link-button danger"
                                    aria-label=format!("Cancel the change on {cancel_name}")
                                >
                                    "Cancel"
                                </button>
                            </ActionForm>
                        }
                    })}
                {state_is(TwoFactorState::Failed)
                    .then(|| {
                        view! {
                            <ActionForm action=state.retry>
                                <input type="hidden" name="server_ids[]" value=id2 />
                                <button type="submit" class="link-button" aria-label=format!("Retry on {retry_name}")>
                                    "Retry"
                                </button>
                            </ActionForm>
                        }
                    })} <A href=format!("/hss/servers/{}", row.id)>"Details"</A>
            </div>
        }
    };
    let (row_name, row_status) = (s.name.clone(), s.status.as_str());
    let topic = match (s.topic.clone(), s.topic_urn.clone()) {
        (Some(name), Some(urn)) => view! {
            <div>{name.clone()}</div>
            <ShortUrn urn label=format!("Copy the URN of topic {name}") />
        }
        .into_any(),
        (Some(name), None) => name.into_any(),
        _ => "--".into_any(),
    };
    view! {
        <tr data-server=row_name data-status=row_status>
            <td class="check">
                <input type="checkbox" aria-label=format!("Select {}", s.name) prop:checked=checked on:change=toggle />
            </td>
            <td data-label="Protected Server">
                <A href=format!("/hss/servers/{}", s.id)>{s.name.clone()}</A>
                <div class="muted small">{s.ip.clone()}</div>
            </td>
            <td data-label="OS">{os}<div class="muted small">{s.os_name.clone()}</div></td>
            <td data-label="Agent">
                {if s.agent_online {
                    view! { <Badge kind="ok" text="Online".into() /> }.into_any()
                } else {
                    view! { <Badge kind="muted" text="Offline".into() /> }.into_any()
                }}
            </td>
            <td class="status-cell" data-label="2FA Status">
                {status}
                <ul class="readiness">
                    {s
                        .readiness
                        .iter()
                        .filter(|f| f.rule == "topic_recipients")
                        .map(|f| view! { <li class="warning" role="note">{f.message.clone()}</li> })
                        .collect_view()}
                </ul>
            </td>
            <td data-label="Method">{method}</td>
            <td data-label="Topic">{topic}</td>
            <td data-label="Operation">{ops}</td>
        </tr>
    }
}

/// Enable, Disable or Change Topic for the dialog's servers: a form for `two-factor/save`.
#[component]
fn ChangeDialog(dialog: Dialog, state: TabState) -> impl IntoView {
    let Dialog { action, rows } = dialog;
    let method = RwSignal::new(LoginMethod::Sms);
    let needs_topic = move || {
        action == ChangeAction::ChangeTopic || (action == ChangeAction::Enable && method.get() == LoginMethod::Sms)
    };
    let linux = rows.iter().filter(|r| r.os_type != "windows").count();
    let login_config = match (linux, rows.len() - linux) {
        (0, _) => "the system login configuration of the servers",
        (_, 0) => "the system login configuration of the servers (PAM and sshd)",
        _ => "the system login configuration of the servers (PAM and sshd on Linux)",
    };
    let when = move || {
        let delay = state.delay_secs.get().map(about).unwrap_or_else(|| "a few minutes".into());
        format!("It takes effect in {delay}, once each server's agent applies it; until then you can cancel it.")
    };
    let note = move || match action {
        ChangeAction::Enable => format!("Enabling 2FA modifies {login_config}. {}", when()),
        ChangeAction::Disable => format!("Disabling 2FA restores {login_config}. {}", when()),
        ChangeAction::ChangeTopic => format!("Login codes will go to the new topic's confirmed endpoints. {}", when()),
    };
    // Enabling a server with a blocker is refused: with nothing else selected there is nothing to save.
    let all_blocked = action == ChangeAction::Enable && rows.iter().all(|r| r.readiness.iter().any(|f| f.refuses_save()));
    let close = move || state.dialog.set(None);
    view! {
        <Modal title=title(action).to_owned() on_close=close>
            <ActionForm action=state.save>
                <input type="hidden" name="change[action]" value=action.as_str() />
                {rows
                    .iter()
                    .map(|r| view! { <input type="hidden" name="change[server_ids][]" value=r.id.clone() /> })
                    .collect_view()}
                {(action == ChangeAction::Enable).then(|| view! { <MethodPicker method /> })}
                <Show when=needs_topic>
                    <TopicPicker />
                </Show>
                <SelectedServers rows show_readiness=action == ChangeAction::Enable />
                <p class="note" role="note">
                    {note}
                </p>
                <ChangeOutcome value=state.save.value().into() />
                {all_blocked
                    .then(|| {
                        view! {
                            <p class="form-error" id="dialog-all-blocked">
                                {"Every selected server is blocked. Fix its blockers first, or select other servers."}
                            </p>
                        }
                    })}
                <div class="form-actions">
                    <button
                        type="submit"
                        class="button button-primary"
                        aria-describedby=all_blocked.then_some("dialog-all-blocked")
                        disabled=move || all_blocked || state.save.pending().get()
                    >
                        "OK"
                    </button>
                    <button type="button" class="button button-secondary" on:click=move |_| close()>
                        "Close"
                    </button>
                </div>
            </ActionForm>
        </Modal>
    }
}

/// SMS/Email (codes to a topic's endpoints) or Verification code (the end user's own factors).
#[component]
fn MethodPicker(method: RwSignal<LoginMethod>) -> impl IntoView {
    let radio = move |value: LoginMethod, label: &'static str| {
        view! {
            <label class="radio">
                <input
                    type="radio"
                    name="change[method]"
                    value=value.as_str()
                    prop:checked=move || method.get() == value
                    on:change=move |_| method.set(value)
                />
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="field">
            <legend>"Method"</legend>
            {radio(LoginMethod::Sms, "SMS/Email")}
            {radio(LoginMethod::Code, "Verification code")}
        </fieldset>
    }
}

/// The topic whose confirmed endpoints receive the codes: only topics with at least one
/// confirmed subscription are offered. "Create a topic" opens in a new tab, so the dialog
/// keeps its servers; the list loads again when the user comes back to this tab.
#[component]
fn TopicPicker() -> impl IntoView {
    let back = RwSignal::new(0u32);
    let topics = Resource::new(move || back.get(), |_| usable_topics());
    let again = move || back.update(|n| *n += 1);
    let on_focus = window_event_listener(leptos::ev::focus, move |_| again());
    let on_visible = window_event_listener(leptos::ev::visibilitychange, move |_| again());
    on_cleanup(move || {
        on_focus.remove();
        on_visible.remove();
    });
    let chosen = RwSignal::new(String::new());
    let create = || {
        view! {
            <a href="/smn/topics" target="_blank" rel="noopener">
                "Create a topic"
                <span class="visually-hidden">" (opens in a new tab)"</span>
            </a>
        }
    };
    view! {
        <div class="field">
            <label for="dialog-topic">"Topic"</label>
            <Transition fallback=|| {
                view! { <p class="muted">"Loading topics…"</p> }
            }>
                {move || Suspend::new(async move {
                    match topics.await {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <p class="form-error">
                                    "No topic has a confirmed subscription yet. " {create()}
                                    " and confirm a subscription first, then come back to this tab."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            view! {
                                <select
                                    id="dialog-topic"
                                    name="change[topic_id]"
                                    on:change=move |ev| chosen.set(event_target_value(&ev))
                                >
                                    {list
                                        .into_iter()
                                        .map(|t| {
                                            let on = chosen.get_untracked() == t.id;
                                            view! {
                                                <option value=t.id selected=on>
                                                    {format!("{} ({})", t.display_name, t.name)}
                                                </option>
                                            }
                                        })
                                        .collect_view()}
                                </select>
                                <p class="hint">"Only topics with at least one confirmed subscription. " {create()}</p>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// The servers the change is for; when enabling, each with its readiness: blockers (the
/// server is refused) and warnings. A server whose agent is offline gets the change when the
/// agent is back (or the change fails at the rollout's deadline).
#[component]
fn SelectedServers(rows: Vec<TwoFactorRow>, show_readiness: bool) -> impl IntoView {
    view! {
        <h3>{format!("Selected servers ({})", rows.len())}</h3>
        <ul class="dialog-servers">
            {rows
                .into_iter()
                .map(|r| {
                    let blocked = r.readiness.iter().any(|f| f.refuses_save());
                    // When enabling, the readiness list below says it (a warning from domain).
                    let offline = (!r.agent_online && !show_readiness)
                        .then(|| {
                            view! {
                                <li class="warning">
                                    "Warning: the agent is offline. The change will wait for the agent and applies when it is back online."
                                </li>
                            }
                        });
                    view! {
                        <li data-server=r.name.clone()>
                            <b>{r.name.clone()}</b>
                            " "
                            <span class="muted small">{r.ip.clone()}</span>
                            {show_readiness
                                .then(|| {
                                    if blocked {
                                        view! { <Badge kind="err" text="Blocked".into() /> }.into_any()
                                    } else {
                                        view! { <Badge kind="ok" text="Ready".into() /> }.into_any()
                                    }
                                })}
                            <ul class="readiness">
                                {offline}
                                {show_readiness
                                    .then(|| {
                                        r.readiness
                                            .into_iter()
                                            .map(|f| {
                                                let class = if f.blocker { "blocker" } else { "warning" };
                                                view! {
                                                    <li class=class>
                                                        {if f.blocker { "Blocker: " } else { "Warning: " }}
                                                        {f.message}
                                                    </li>
                                                }
                                            })
                                            .collect_view()
                                    })}
                            </ul>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// Adding a server: a one-time install command for its agent, and the tenant's install and
/// re-install tokens with their state, each revocable until it is used.
#[component]
fn InstallAgent() -> impl IntoView {
    let make = Action::new(|_: &()| create_install_command());
    let revoke = ServerAction::<RevokeAgentToken>::new();
    let tokens = Resource::new(move || (make.version().get(), revoke.version().get()), |_| list_agent_tokens());
    view! {
        <details class="panel install-agent">
            <summary>"Add a server: install the agent"</summary>
            <p>
                "Copy the agent's package, "<code>{crate::functions::agents::AGENT_PACKAGE}</code>" (made by "<code>"scripts/build-deb.sh"</code>
                "), to the server, then run the command there as root. It installs the package, which changes no login configuration "
                "until 2FA is enabled here, registers the agent and starts its service. "
                "The token registers one new server and is valid for 24 hours; the server then shows up in this list. "
                "The token reaches the agent on standard input, so "<code>"ps"</code>" and sudo's log never show it. "
                "It never replaces the agent of a server that has one, even one with the same name: for that, use Re-install agent on the server's page."
            </p>
            <button
                class="button button-secondary"
                on:click=move |_| {
                    make.dispatch(());
                }
            >
                "Create install command"
            </button>
            <crate::components::install::NewInstallCommand result=move || make.value().get() />
            <h3 class="subhead">"Install tokens"</h3>
            <FormResult value=revoke.value() success=|_| "Token revoked: it can no longer register a server.".to_owned() />
            <Loaded
                resource=tokens
                ok=move |list| {
                    if list.is_empty() {
                        return view! { <p class="empty">"No install tokens yet."</p> }.into_any();
                    }
                    view! {
                        <DataTable headers=&["Kind", "Server", "Created", "Expires", "State", "Operation"]>
                                {list
                                    .into_iter()
                                    .map(|t| {
                                        let badge = match t.state.as_str() {
                                            "valid" => "ok",
                                            "used" => "muted",
                                            _ => "warn",
                                        };
                                        let state = match &t.state_at {
                                            Some(at) => format!("{} {at}", t.state),
                                            None => t.state.clone(),
                                        };
                                        let server = t
                                            .for_server
                                            .clone()
                                            .or(t.registered.clone())
                                            .unwrap_or_else(|| "--".into());
                                        let id = t.id.clone();
                                        view! {
                                            <tr data-token=t.id.clone()>
                                                <td>{t.kind.clone()}</td>
                                                <td>{server}</td>
                                                <td>{t.created.clone()}</td>
                                                <td>{t.expires.clone()}</td>
                                                <td>
                                                    <Badge kind=badge text=state />
                                                </td>
                                                <td>
                                                    {(t.state == "valid")
                                                        .then(|| {
                                                            view! {
                                                                <ActionForm action=revoke>
                                                                    <input type="hidden" name="id" value=id />
                                                                    <button type="submit" class="link-button danger">
                                                                        "Revoke"
                                                                    </button>
                                                                </ActionForm>
                                                            }
                                                        })}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                        </DataTable>
                    }
                        .into_any()
                }
            />
        </details>
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("web 01&x=1"), "web%2001%26x%3D1");
        assert_eq!(super::encode("192.168.10.35"), "192.168.10.35");
    }

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

    #[test]
    fn the_apply_delay_reads_as_about_so_long() {
        assert_eq!(super::about(300), "about 5 minutes");
        assert_eq!(super::about(3), "about 3 seconds");
        assert_eq!(super::about(1), "about 1 second");
        assert_eq!(super::about(90), "about 2 minutes");
        assert_eq!(super::about(7200), "about 2 hours");
    }

    #[test]
    fn time_left_reads_as_minutes_and_seconds() {
        assert_eq!(super::clock(300), "5:00");
        assert_eq!(super::clock(65), "1:05");
        assert_eq!(super::clock(9), "0:09");
    }
}
