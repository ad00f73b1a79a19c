//! The 2FA tab's agent-install panel.

use crate::{
    components::{
        form::RowAction,
        status::{Badge, DataTable, FormResult, Loaded},
    },
    functions::agents::{create_install_command, list_agent_tokens, RevokeAgentToken},
    models::{utc, Label, Status, TokenState},
};
use crate::components::resource::resource;
use leptos::prelude::*;

/// Adding a server: a one-time install command for its agent, and the tenant's install and
/// re-install tokens with their state, each revocable until it is used.
#[component]
pub(super) fn InstallAgent() -> impl IntoView {
    let make = Action::new(|_: &()| create_install_command());
    let revoke = ServerAction::<RevokeAgentToken>::new();
    let tokens = resource(move || (make.version().get(), revoke.version().get()), |_| list_agent_tokens());
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
                                        let badge = t.state.badge();
                                        let state = match t.state_at {
                                            Some(at) => format!("{} {}", t.state.label(), utc(at)),
                                            None => t.state.label().to_owned(),
                                        };
                                        let server = t
                                            .for_server
                                            .clone()
                                            .or(t.registered.clone())
                                            .unwrap_or_else(|| "--".into());
                                        let id = t.id.to_string();
                                        view! {
                                            <tr data-token=t.id.to_string()>
                                                <td>{t.kind.as_str()}</td>
                                                <td>{server}</td>
                                                <td>{utc(t.created)}</td>
                                                <td>{utc(t.expires)}</td>
                                                <td>
                                                    <Badge kind=badge text=state />
                                                </td>
                                                <td>
                                                    {(t.state == TokenState::Valid)
                                                        .then(|| {
                                                            view! { <RowAction action=revoke value=id text="Revoke" /> }
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
