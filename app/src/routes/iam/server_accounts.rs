//! IAM → Server accounts: which end user logs in as which server account (a Linux user name),
//! so that a server in verification-code mode knows whom to ask for a code. A mapping holds on
//! every server, or on one server, where it overrides the tenant-wide one.

use crate::{
    components::status::{DataTable, FormResult, Loaded, PageHeader},
    functions::server_accounts::{list_server_accounts, AddServerAccount, RemoveServerAccount},
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ServerAccountsPage() -> impl IntoView {
    let add = ServerAction::<AddServerAccount>::new();
    let remove = ServerAction::<RemoveServerAccount>::new();
    let data = Resource::new(move || (add.version().get(), remove.version().get()), |_| list_server_accounts());
    view! {
        <Title text="Server accounts" />
        <PageHeader title="Server accounts" crumbs=&["Identity and Access Management"]>
            <p>
                "On servers in verification-code mode, a login asks the person behind the server account for a code from "
                "their authenticator app. Say here who that is: for every server, or for one server, which then wins over "
                "the mapping for every server. People enroll their authenticators on the self-service portal."
            </p>
        </PageHeader>
        <Loaded
            resource=data
            ok=move |d| {
                let no_users = d.end_users.is_empty();
                view! {
                    <section class="panel">
                        <h2>"Map an account"</h2>
                        <ActionForm action=add attr:class="form-grid">
                            <div class="field">
                                <label for="map-account">"Server account"</label>
                                <input
                                    id="map-account"
                                    name="account"
                                    type="text"
                                    maxlength="32"
                                    placeholder="root"
                                    required
                                />
                                <p class="hint">"The Linux user name, as typed at the SSH login."</p>
                            </div>
                            <div class="field">
                                <label for="map-user">"User"</label>
                                <select id="map-user" name="end_user_id" required>
                                    <option value="">"Choose a user"</option>
                                    {d
                                        .end_users
                                        .iter()
                                        .map(|u| view! { <option value=u.id.clone()>{u.label.clone()}</option> })
                                        .collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for="map-server">"Server"</label>
                                <select id="map-server" name="server_id">
                                    <option value="">"All servers"</option>
                                    {d
                                        .servers
                                        .iter()
                                        .map(|s| view! { <option value=s.id.clone()>{s.label.clone()}</option> })
                                        .collect_view()}
                                </select>
                                {d
                                    .servers_truncated
                                    .then(|| {
                                        view! {
                                            <p class="hint">"Only the first servers by name are listed."</p>
                                        }
                                    })}
                            </div>
                            <div class="form-actions">
                                <button
                                    type="submit"
                                    class="button button-primary"
                                    disabled=move || add.pending().get()
                                >
                                    "Map account"
                                </button>
                            </div>
                        </ActionForm>
                        {no_users
                            .then(|| {
                                view! {
                                    <p class="hint">
                                        "Your tenant has no users who log in to servers yet; your provider adds them."
                                    </p>
                                }
                            })}
                        <FormResult
                            value=add.value()
                            success=|m: crate::models::AccountMappingRow| {
                                format!(
                                    "{} is now mapped to {} on {}.",
                                    m.account,
                                    m.end_user_email,
                                    m.server_name.unwrap_or_else(|| "every server".into()),
                                )
                            }
                        />
                    </section>
                    <section class="panel">
                        <FormResult value=remove.value() success=|_| "Mapping removed.".to_owned() />
                        {if d.mappings.is_empty() {
                            view! {
                                <p class="empty">
                                    "No server accounts are mapped: logins in verification-code mode are refused."
                                </p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <DataTable headers=&["Server account", "Servers", "User", "Mapped", "Operation"]>
                                    {d
                                        .mappings
                                        .into_iter()
                                        .map(|m| {
                                            let label = format!(
                                                "Remove the mapping of {} on {}",
                                                m.account,
                                                m.server_name.clone().unwrap_or_else(|| "all servers".into()),
                                            );
                                            view! {
                                                <tr>
                                                    <td class="mono">{m.account.clone()}</td>
                                                    <td>
                                                        {m
                                                            .server_name
                                                            .clone()
                                                            .unwrap_or_else(|| "All servers".to_owned())}
                                                    </td>
                                                    <td>
                                                        {m.end_user.clone()} <br />
                                                        <span class="small muted">{m.end_user_email.clone()}</span>
                                                    </td>
                                                    <td class="small">{m.created.clone()}</td>
                                                    <td>
                                                        <ActionForm action=remove>
                                                            <input type="hidden" name="id" value=m.id.clone() />
                                                            <button
                                                                type="submit"
                                                                class="link-button danger"
                                                                aria-label=label
                                                            >
                                                                "Remove"
                                                            </button>
                                                        </ActionForm>
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </DataTable>
                            }
                                .into_any()
                        }}
                    </section>
                }
            }
        />
    }
}
