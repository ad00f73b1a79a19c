//! Host Security → Installation & Configuration → Two-Factor Authentication: the servers with
//! their 2FA status, filters, batch and per-row Enable / Disable / Change Topic through one
//! dialog, cancel and retry, live status, and the agent install command.

use crate::{
    components::{
        layout::RegionState,
        poll::poll_every,
        status::{Badge, DataTable, FormResult, Loaded, PageHeader},
    },
    functions::{
        agents::{create_install_command, list_agent_tokens, RevokeAgentToken},
        two_factor::{list_two_factor, usable_topics, CancelTwoFactor, RetryTwoFactor, SaveTwoFactor},
    },
    models::{
        two_factor::{ChangeAction, LoginMethod, TwoFactorQuery},
        AppError, ChangeResult, Method, TwoFactorPage, TwoFactorRow, TwoFactorState, TwoFactorStatus,
    },
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Form, A},
    hooks::use_query_map,
};
use std::{collections::BTreeMap, time::Duration};

const PAGE_SIZES: [u64; 4] = [10, 20, 50, 100];

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
    };
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
    let select = move |name: &'static str, label: &'static str, options: &'static [(&'static str, &'static str)]| {
        view! {
            <label class="inline-field">
                {label} <select name=name prop:value=move || param(name)>
                    {options.iter().map(|(v, t)| view! { <option value=*v>{*t}</option> }).collect_view()}
                </select>
            </label>
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
            <Form method="GET" action="">
                <div class="toolbar">
                    <label class="search">
                        <span class="visually-hidden">"Search by server name or IP address"</span>
                        <input
                            type="search"
                            name="search"
                            placeholder="Search by server name or IP address"
                            prop:value=move || param("search")
                        />
                    </label>
                    {select(
                        "status",
                        "2FA Status",
                        &[
                            ("", "All"),
                            ("enabled", "Enabled"),
                            ("disabled", "Disabled"),
                            ("enabling", "Enabling"),
                            ("disabling", "Disabling"),
                            ("failed", "Failed"),
                        ],
                    )}
                    {select("os", "OS", &[("", "All"), ("linux", "Linux"), ("windows", "Windows")])}
                    {select("method", "Method", &[("", "All"), ("sms", "SMS/Email"), ("code", "Verification code")])}
                    {select(
                        "sort",
                        "Sort",
                        &[("name", "Name A–Z"), ("-name", "Name Z–A"), ("os", "OS"), ("status", "2FA Status")],
                    )}
                    <label class="inline-field">
                        "Per page" <select name="size" prop:value=move || size().to_string()>
                            {PAGE_SIZES
                                .iter()
                                .map(|s| view! { <option value=s.to_string()>{s.to_string()}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="button button-secondary">
                        "Search"
                    </button>
                </div>
            </Form>
            <div class="toolbar batch-bar" role="group" aria-label="Batch actions">
                <button class="button button-primary" disabled=none_selected on:click=move |_| open(ChangeAction::Enable)>
                    "Enable 2FA"
                </button>
                <button class="button button-secondary" disabled=none_selected on:click=move |_| open(ChangeAction::Disable)>
                    "Disable 2FA"
                </button>
                <button
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
            <FormResult value=outcome success=|r: ChangeResult| outcome_text(&r, "changed") />
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

fn outcome_text(r: &ChangeResult, verb: &str) -> String {
    let mut text = format!("{} {verb}.", crate::components::status::count(r.changed as u64, "server", "servers"));
    for s in &r.refused {
        text.push_str(&format!(" {}: {}", s.name, s.reasons.join(" ")));
    }
    text
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
        let size = page.page_size;
        move |p: u64| {
            let q = query.read_untracked();
            let keep: String = ["search", "status", "os", "method", "sort"]
                .iter()
                .filter_map(|k| q.get(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={}&", encode(&v))))
                .collect();
            format!("?{keep}size={size}&page={p}")
        }
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
            <table class="data-table" aria-label="Protected servers">
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
        let name = row.name.clone();
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
                            <button class="link-button" on:click=move |_| one(ChangeAction::ChangeTopic, r3.clone())>
                                "Change Topic"
                            </button>
                        }
                    })}
                {moving
                    .then(|| {
                        view! {
                            <ActionForm action=state.cancel>
                                <input type="hidden" name="server_ids[]" value=id1 />
                                <button type="submit" class="link-button danger">
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
                                <button type="submit" class="link-button">
                                    "Retry"
                                </button>
                            </ActionForm>
                        }
                    })} <A href=format!("/hss/servers/{}", row.id)>"Details"</A>
            </div>
        }
    };
    let (row_name, row_status) = (s.name.clone(), s.status.as_str());
    view! {
        <tr data-server=row_name data-status=row_status>
            <td class="check">
                <input type="checkbox" aria-label=format!("Select {}", s.name) prop:checked=checked on:change=toggle />
            </td>
            <td>
                <A href=format!("/hss/servers/{}", s.id)>{s.name.clone()}</A>
                <div class="muted small">{s.ip.clone()}</div>
            </td>
            <td>{os}<div class="muted small">{s.os_name.clone()}</div></td>
            <td>
                {if s.agent_online {
                    view! { <Badge kind="ok" text="Online".into() /> }.into_any()
                } else {
                    view! { <Badge kind="muted" text="Offline".into() /> }.into_any()
                }}
            </td>
            <td class="status-cell">
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
            <td>{method}</td>
            <td>{s.topic.clone().unwrap_or_else(|| "--".into())}</td>
            <td>{ops}</td>
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
    let note = match action {
        ChangeAction::Enable => {
            "Enabling 2FA modifies the system login configuration (PAM and sshd) of the servers. It takes effect after the apply delay; until then you can cancel it."
        }
        ChangeAction::Disable => {
            "Disabling 2FA restores the system login configuration of the servers. It takes effect after the apply delay; until then you can cancel it."
        }
        ChangeAction::ChangeTopic => {
            "Login codes will go to the new topic's confirmed endpoints after the apply delay; until then you can cancel it."
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="dialog-title">
                <ActionForm action=state.save>
                    <h2 id="dialog-title">{title(action)}</h2>
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
                    <FormResult value=state.save.value() success=|r: ChangeResult| outcome_text(&r, "changed") />
                    <div class="form-actions">
                        <button type="submit" class="button button-primary" disabled=move || state.save.pending().get()>
                            "OK"
                        </button>
                        <button type="button" class="button button-secondary" on:click=move |_| state.dialog.set(None)>
                            "Close"
                        </button>
                    </div>
                </ActionForm>
            </div>
        </div>
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
/// confirmed subscription are offered.
#[component]
fn TopicPicker() -> impl IntoView {
    let topics = Resource::new(|| (), |_| usable_topics());
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
                                    "No topic has a confirmed subscription yet. "
                                    <A href="/smn/topics">"Create a topic"</A>
                                    " and confirm a subscription first."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            view! {
                                <select id="dialog-topic" name="change[topic_id]">
                                    {list
                                        .into_iter()
                                        .map(|t| {
                                            view! {
                                                <option value=t.id>{format!("{} ({})", t.display_name, t.name)}</option>
                                            }
                                        })
                                        .collect_view()}
                                </select>
                                <p class="hint">
                                    "Only topics with at least one confirmed subscription. "
                                    <A href="/smn/topics">"Create a topic"</A>
                                </p>
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
/// server is refused) and warnings.
#[component]
fn SelectedServers(rows: Vec<TwoFactorRow>, show_readiness: bool) -> impl IntoView {
    view! {
        <h3>{format!("Selected servers ({})", rows.len())}</h3>
        <ul class="dialog-servers">
            {rows
                .into_iter()
                .map(|r| {
                    let blocked = r.readiness.iter().any(|f| f.blocker);
                    view! {
                        <li data-server=r.name.clone()>
                            <b>{r.name.clone()}</b>
                            " "
                            <span class="muted small">{r.ip.clone()}</span>
                            {show_readiness
                                .then(|| {
                                    view! {
                                        {if blocked {
                                            view! { <Badge kind="err" text="Blocked".into() /> }.into_any()
                                        } else {
                                            view! { <Badge kind="ok" text="Ready".into() /> }.into_any()
                                        }}
                                        <ul class="readiness">
                                            {r
                                                .readiness
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
                                                .collect_view()}
                                        </ul>
                                    }
                                })}
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
    fn time_left_reads_as_minutes_and_seconds() {
        assert_eq!(super::clock(300), "5:00");
        assert_eq!(super::clock(65), "1:05");
        assert_eq!(super::clock(9), "0:09");
    }
}
