//! IAM → Server accounts: which end user logs in as which server account (a Linux user name),
//! so that a server in verification-code mode knows whom to ask for a code. A mapping holds on
//! every server, or on one server, where it overrides the tenant-wide one. Below, the tenant's
//! end users with their sign-in methods, and the button that opens enrolment for one of them.

use crate::{
    components::{
        form::{RowAction, SubmitButton, TextField},
        status::{DataTable, FormResult, Loaded, PageHeader},
    },
    functions::server_accounts::{
        list_end_users, list_server_accounts, AddServerAccount, OpenEnrolment, RemoveServerAccount,
    },
    models::{utc, EndUserRow, EnrolmentOpened},
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ServerAccountsPage() -> impl IntoView {
    let add = ServerAction::<AddServerAccount>::new();
    let remove = ServerAction::<RemoveServerAccount>::new();
    let data = Resource::new(move || (add.version().get(), remove.version().get()), |_| list_server_accounts());
    let open = ServerAction::<OpenEnrolment>::new();
    let users = Resource::new(move || open.version().get(), |_| list_end_users());
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
        <EndUsers users open />
    }
}

/// The tenant's end users, their sign-in methods, and enrolment: a user with none can add a
/// first one only while enrolment is open, which this button does for 24 hours.
#[component]
fn EndUsers(
    users: Resource<Result<Vec<EndUserRow>, crate::models::AppError>>,
    open: ServerAction<OpenEnrolment>,
) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="end-users-heading">
            <h2 id="end-users-heading">"Users and their sign-in methods"</h2>
            <p>
                "People add authenticator apps and recovery codes on the self-service portal. Someone with none can add "
                "a first one only while enrolment is open: open it for them for 24 hours when they are ready (they get "
                "an email). Later changes need a code from a method they already have."
            </p>
            <FormResult
                value=open.value()
                success=|o: EnrolmentOpened| format!("Enrolment is open for {} until {}. They have been told by email.", o.email, utc(o.until))
            />
            <Loaded
                resource=users
                ok=move |rows| {
                    if rows.is_empty() {
                        view! { <p class="empty">"Your tenant has no users who log in to servers yet."</p> }.into_any()
                    } else {
                        view! {
                            <DataTable headers=&["User", "Sign-in methods", "Enrolment", "Operation"]>
                                {rows.into_iter().map(|u| view! { <EndUserLine u open /> }).collect_view()}
                            </DataTable>
                        }
                            .into_any()
                    }
                }
            />
        </section>
    }
}

#[component]
fn EndUserLine(u: EndUserRow, open: ServerAction<OpenEnrolment>) -> impl IntoView {
    let has = u.authenticators > 0 || u.recovery_codes_left > 0;
    let methods = if has {
        format!(
            "{}, {}",
            crate::components::status::count(u.authenticators, "authenticator app", "authenticator apps"),
            crate::components::status::count(u.recovery_codes_left, "recovery code", "recovery codes"),
        )
    } else {
        "None".to_owned()
    };
    let enrolment = match (has, u.enrolment_open_until.map(utc)) {
        (true, _) => "Not needed".to_owned(),
        (false, Some(until)) => format!("Open until {until}"),
        (false, None) => "Not open".to_owned(),
    };
    let label = format!("Open enrolment for {}", u.email);
    view! {
        <tr>
            <td>
                {u.name.clone()} <br />
                <span class="small muted">{u.email.clone()}</span>
            </td>
            <td>{methods}</td>
            <td>{enrolment}</td>
            <td>
                {(!has)
                    .then(|| {
                        view! {
                            <ActionForm action=open>
                                <input type="hidden" name="id" value=u.id.to_string() />
                                <button type="submit" class="link-button" aria-label=label>
                                    {if u.enrolment_open_until.is_some() { "Open again for 24 hours" } else { "Open enrolment" }}
                                </button>
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}
