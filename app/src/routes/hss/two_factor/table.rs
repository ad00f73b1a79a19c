//! The 2FA tab's list: a row per server with its status, method, topic and operations, the
//! selection for batch changes, and the pager.

use super::TabState;
use crate::{
    components::{form::RowAction, list::Pager, status::Badge, urn::ShortUrn},
    models::{
        method_cell, two_factor::ChangeAction, Label, Method, ReadinessRule, TwoFactorPage, TwoFactorRow,
        TwoFactorState, TwoFactorStatus, Uuid,
    },
};
use leptos::prelude::*;
use leptos_router::components::A;

/// "4:05": minutes and seconds.
fn clock(secs: i64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[component]
pub(super) fn ServerTable(page: TwoFactorPage, search: String, state: TabState) -> impl IntoView {
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
    let all_ids: Vec<Uuid> = all.iter().map(|r| r.id).collect();
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
                    sel.insert(r.id, r.clone());
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
        <Pager total=page.total page=page.page page_size=page.page_size one="server" many="servers" />
    }
    .into_any()
}

#[component]
fn ServerLine(s: TwoFactorRow, state: TabState) -> impl IntoView {
    let os = s.os_type.label();
    let id = s.id;
    let checked = move || state.selected.read().contains_key(&id);
    let toggle = {
        let row = s.clone();
        move |ev: leptos::ev::Event| {
            let on = event_target_checked(&ev);
            state.selected.update(|sel| {
                if on {
                    sel.insert(row.id, row.clone());
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
    let method = s.method.map(method_cell).unwrap_or_else(|| "--".to_owned());
    let one = move |action: ChangeAction, row: TwoFactorRow| state.open(action, vec![row]);
    let ops = {
        let row = s.clone();
        let (r1, r2, r3) = (row.clone(), row.clone(), row.clone());
        let (id1, id2) = (row.id.to_string(), row.id.to_string());
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
                        let label = format!("Cancel the change on {cancel_name}");
                        view! { <RowAction action=state.cancel name="server_ids[]" value=id1 text="Cancel" label /> }
                    })}
                {state_is(TwoFactorState::Failed)
                    .then(|| {
                        let label = format!("Retry on {retry_name}");
                        view! { <RowAction action=state.retry name="server_ids[]" value=id2 text="Retry" label class="link-button" /> }
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
                        .filter(|f| f.rule == ReadinessRule::TopicRecipients)
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

#[cfg(test)]
mod tests {
    #[test]
    fn time_left_reads_as_minutes_and_seconds() {
        assert_eq!(super::clock(300), "5:00");
        assert_eq!(super::clock(65), "1:05");
        assert_eq!(super::clock(9), "0:09");
    }
}
