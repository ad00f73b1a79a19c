//! The 2FA tab's change dialog (Enable, Disable, Change Topic for the selected servers) and the
//! outcome of a change, shown in the dialog and above the list.

use super::{Dialog, TabState};
use crate::{
    components::{
        dialog::Modal,
        status::{Badge, FormResult},
    },
    functions::two_factor::usable_topics,
    models::{
        two_factor::{ChangeAction, LoginMethod},
        method_cell, AppError, ChangeResult, Method, OsType, RefusedServer, TwoFactorRow,
    },
};
use crate::components::resource::resource;
use leptos::prelude::*;

pub(super) fn title(action: ChangeAction) -> &'static str {
    match action {
        ChangeAction::Enable => "Enable 2FA",
        ChangeAction::Disable => "Disable 2FA",
        ChangeAction::ChangeTopic => "Change Topic",
    }
}

/// "1 server", "3 servers".
fn servers(n: usize) -> String {
    crate::components::status::count(n as u64, "server", "servers")
}

/// Each server once, named, with its reasons.
fn server_reasons(list: Vec<RefusedServer>) -> impl IntoView {
    list.into_iter()
        .map(|s| {
            view! {
                <li data-server=s.name.clone()>
                    <b>{s.name.clone()}</b>
                    ": "
                    {s.reasons.join(" ")}
                </li>
            }
        })
        .collect_view()
}

/// A change's outcome. All done is a success; otherwise each server left alone is listed
/// once with its reasons, as a warning when others changed and as an error when none did.
/// Servers a save skipped (the change would have changed nothing on them) are listed too.
#[component]
pub(super) fn ChangeOutcome(value: Signal<Option<Result<ChangeResult, AppError>>>) -> impl IntoView {
    let errors = Signal::derive(move || value.get().filter(|r| r.is_err()));
    let skipped = |unchanged: Vec<RefusedServer>| {
        (!unchanged.is_empty()).then(|| {
            view! {
                <p>{format!("{} skipped: nothing to change.", servers(unchanged.len()))}</p>
                <ul class="unchanged">{server_reasons(unchanged)}</ul>
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
                    <ul>{server_reasons(r.refused)}</ul>
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

/// Enable, Disable or Change Topic for the dialog's servers: a form for `two-factor/save`.
#[component]
pub(super) fn ChangeDialog(dialog: Dialog, state: TabState) -> impl IntoView {
    let Dialog { action, rows } = dialog;
    let method = RwSignal::new(LoginMethod::Sms);
    let needs_topic = move || {
        action == ChangeAction::ChangeTopic || (action == ChangeAction::Enable && method.get() == LoginMethod::Sms)
    };
    let linux = rows.iter().filter(|r| r.os_type == OsType::Linux).count();
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
    let all_blocked =
        action == ChangeAction::Enable && rows.iter().all(|r| r.readiness.iter().any(|f| f.refuses_save()));
    let close = move || state.dialog.set(None);
    view! {
        <Modal title=title(action).to_owned() on_close=close>
            <ActionForm action=state.save>
                <input type="hidden" name="change[action]" value=action.as_str() />
                {rows
                    .iter()
                    .map(|r| view! { <input type="hidden" name="change[server_ids][]" value=r.id.to_string() /> })
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
    let radio = move |value: LoginMethod, shown: Method| {
        view! {
            <label class="radio">
                <input
                    type="radio"
                    name="change[method]"
                    value=value.as_str()
                    prop:checked=move || method.get() == value
                    on:change=move |_| method.set(value)
                />
                {method_cell(shown)}
            </label>
        }
    };
    view! {
        <fieldset class="field">
            <legend>"Method"</legend>
            {radio(LoginMethod::Sms, Method::Sms)}
            {radio(LoginMethod::Code, Method::Code)}
        </fieldset>
    }
}

/// The topic whose confirmed endpoints receive the codes: only topics with at least one
/// confirmed subscription are offered. "Create a topic" opens in a new tab, so the dialog
/// keeps its servers; the list loads again when the user comes back to this tab.
#[component]
fn TopicPicker() -> impl IntoView {
    let back = RwSignal::new(0u32);
    let topics = resource(move || back.get(), |_| usable_topics());
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
                                            let id = t.id.to_string();
                                            let on = chosen.get_untracked() == id;
                                            view! {
                                                <option value=id selected=on>
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_apply_delay_reads_as_about_so_long() {
        assert_eq!(super::about(300), "about 5 minutes");
        assert_eq!(super::about(3), "about 3 seconds");
        assert_eq!(super::about(1), "about 1 second");
        assert_eq!(super::about(90), "about 2 minutes");
        assert_eq!(super::about(7200), "about 2 hours");
    }
}
