//! IAM → Server accounts: which end user logs in as which server account (a Linux user name),
//! so that a server in verification-code mode knows whom to ask for a code. A mapping holds on
//! every server, or on one server, where it overrides the tenant-wide one. People, their
//! invitations and sign-in methods are on the Users page.

use crate::{
    components::{
        form::{RowAction, SubmitButton, TextField},
        status::{DataTable, FormResult, Loaded, PageHeader},
    },
    functions::server_accounts::{list_server_accounts, AddServerAccount, RemoveServerAccount},
    models::utc,
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ServerAccountsPage() -> impl IntoView {
    let add = ServerAction::<AddServerAccount>::new();
    let remove = ServerAction::<RemoveServerAccount>::new();
    let data = resource(move || (add.version().get(), remove.version().get()), |_| list_server_accounts());
    view! {
        <Title text="Server accounts" />
        <PageHeader title="Server accounts" crumbs=&["Identity and Access Management"]>
            <p>
                "On servers in verification-code mode, a login asks the person behind the server account for a code from "
                "their authenticator app. Say here who that is: for every server, or for one server, which then wins over "
                "the mapping for every server. People enroll their authenticators from their invitation; invite them "
                "and see their sign-in methods on the "
                <a href="/iam/users">"Users"</a>
                " page."
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
                            <TextField id="map-account" label="Server account" name="account" required=true maxlength="32" placeholder="root">
                                "The Linux user name, as typed at the SSH login."
                            </TextField>
                            <div class="field">
                                <label for="map-user">"User"</label>
                                <select id="map-user" name="end_user_id" required>
                                    <option value="">"Choose a user"</option>
                                    {d
                                        .end_users
                                        .iter()
                                        .map(|u| view! { <option value=u.id.to_string()>{u.label.clone()}</option> })
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
                                        .map(|s| view! { <option value=s.id.to_string()>{s.label.clone()}</option> })
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
                            <SubmitButton label="Map account" pending=add.pending() />
                        </ActionForm>
                        {no_users
                            .then(|| {
                                view! {
                                    <p class="hint">
                                        "Your tenant has no users who log in to servers yet; invite them on the Users page."
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
                                                    <td class="small">{utc(m.created)}</td>
                                                    <td>
                                                        <RowAction action=remove value=m.id.to_string() text="Remove" label />
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
