//! `/account/security`: the signed-in person's own sign-in settings: their password (the
//! current one needed; their other sessions end) and, for tenant admins and operators, the
//! authenticator app the console asks a code from after the password.

use crate::{
    components::{
        form::{SubmitButton, TextField},
        status::{DataTable, FormResult, Loaded, PageHeader},
    },
    functions::{
        auth::{console_policy, ChangePassword, SaveConsolePolicy},
        console_factor::{
            my_console_factor, BeginConsoleAuthenticator, ConfirmConsoleAuthenticator, RemoveConsoleAuthenticator,
        },
    },
    models::{console_auth::ConsoleFactorView, utc, AppError, NewAuthenticator},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountSettingsPage() -> impl IntoView {
    view! {
        <Title text="Sign-in and security" />
        <PageHeader title="Sign-in and security">
            <p>"How you sign in to this console."</p>
        </PageHeader>
        <ChangePasswordPanel />
        <ConsoleAuthenticatorPanel />
        <AdminsPolicyPanel />
    }
}

fn saved_policy(on: bool) -> String {
    if on { "Admins now need a code at sign-in." } else { "Admins now sign in with a password alone." }.to_owned()
}

/// For tenant admins: whether their organisation's admins need the authenticator at sign-in.
#[component]
fn AdminsPolicyPanel() -> impl IntoView {
    let save = ServerAction::<SaveConsolePolicy>::new();
    let policy = resource(move || save.version().get(), |_| console_policy());
    view! {
        <Loaded
            resource=policy
            ok=move |policy| {
                let policy: Option<bool> = policy;
                policy.map(|required| {
                    view! {
                        <section class="panel" aria-labelledby="admins-policy-heading">
                            <h2 id="admins-policy-heading">"Your organisation's admins"</h2>
                            <FormResult value=save.value() success=saved_policy />
                            <ActionForm action=save attr:class="form-grid">
                                <div class="field">
                                    <label>
                                        <input type="checkbox" name="required" value="true" checked=required />
                                        " Tenant admins need a code from an authenticator app at console sign-in"
                                    </label>
                                    <p class="hint">"On by default. A change is recorded in the audit trail and mailed to the other admins."</p>
                                </div>
                                <TextField id="policy-code" name="code" label="Current code from your authenticator app" maxlength="7" autocomplete="one-time-code">
                                    "Needed to change this if you have an authenticator app for the console."
                                </TextField>
                                <SubmitButton label="Save" pending=save.pending() secondary=true />
                            </ActionForm>
                        </section>
                    }
                })
            }
        />
    }
}

#[component]
fn ConsoleAuthenticatorPanel() -> impl IntoView {
    let begin = ServerAction::<BeginConsoleAuthenticator>::new();
    let confirm = ServerAction::<ConfirmConsoleAuthenticator>::new();
    let remove = ServerAction::<RemoveConsoleAuthenticator>::new();
    let factor = resource(
        move || (confirm.version().get(), remove.version().get()),
        |_| my_console_factor(),
    );
    // The enrolment stays on screen until it is confirmed.
    let enrolling = move || match (begin.value().get(), confirm.value().get()) {
        (_, Some(Ok(_))) => None,
        (b, _) => b,
    };
    view! {
        <Loaded
            resource=factor
            ok=move |f: ConsoleFactorView| {
                if !f.may_enrol {
                    return ().into_any();
                }
                view! {
                    <section class="panel" aria-labelledby="console-app-heading">
                        <h2 id="console-app-heading">"Authenticator app"</h2>
                        <FormResult value=confirm.value() success=|a: crate::models::console_auth::ConsoleAuthenticatorRow| {
                            format!("{} added: the console asks for its code from your next sign-in.", a.name)
                        } />
                        <FormResult value=remove.value() success=|_| "Authenticator removed.".to_owned() />
                        {match f.authenticator {
                            Some(a) => view! {
                                <p>"After your password, the console asks for a code from this app."</p>
                                <DataTable headers=&["Name", "Added", "Last used"]>
                                    <tr>
                                        <td data-label="Name">{a.name.clone()}</td>
                                        <td data-label="Added">{utc(a.added)}</td>
                                        <td data-label="Last used">{a.last_used.map(utc).unwrap_or_else(|| "Never".into())}</td>
                                    </tr>
                                </DataTable>
                                <ActionForm action=remove attr:class="form-grid">
                                    <TextField id="remove-code" name="code" label="Current code, to remove it" required=true maxlength="7" autocomplete="one-time-code" />
                                    <SubmitButton label="Remove authenticator" pending=remove.pending() secondary=true />
                                </ActionForm>
                            }
                            .into_any(),
                            None => view! {
                                <p>
                                    "Add an authenticator app (Microsoft Authenticator, Google Authenticator or another): "
                                    "then the console asks for its code after your password, so a password alone cannot sign in as you."
                                </p>
                                <ActionForm action=begin attr:class="form-grid">
                                    <TextField id="console-app-name" label="Name" name="name" maxlength="64" placeholder="My phone">
                                        "Optional. Helps you tell your devices apart."
                                    </TextField>
                                    <SubmitButton label="Add authenticator" pending=begin.pending() />
                                </ActionForm>
                                {move || enrolling().map(|r| view! { <ConsoleEnrolment result=r confirm /> })}
                            }
                            .into_any(),
                        }}
                    </section>
                }
                .into_any()
            }
        />
    }
}

#[component]
fn ConsoleEnrolment(
    result: Result<NewAuthenticator, AppError>,
    confirm: ServerAction<ConfirmConsoleAuthenticator>,
) -> impl IntoView {
    match result {
        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        Ok(e) => view! {
            <div class="enrolment">
                <ol class="steps">
                    <li>"In your authenticator app, add an account: scan the QR code, or type the secret key."</li>
                    <li>"Type the 6-digit code the app shows, then confirm."</li>
                </ol>
                <a class="button button-secondary open-app" href=e.otpauth_uri.clone()>
                    "Open in my authenticator app"
                </a>
                <img class="qr" src=e.qr_data_uri.clone() width="200" height="200" alt="QR code to add the HostGuard console to an authenticator app" />
                <div class="field secret-key">
                    <label for="console-app-secret">"Secret key"</label>
                    <textarea id="console-app-secret" class="mono" readonly rows="2" spellcheck="false">
                        {e.secret.clone()}
                    </textarea>
                </div>
                <ActionForm action=confirm attr:class="form-grid">
                    <input type="hidden" name="id" value=e.id.to_string() />
                    <TextField id="console-app-code" name="code" label="Code from the app" required=true maxlength="7" autocomplete="one-time-code">
                        {format!("Confirm by {}, or add the authenticator again.", utc(e.expires))}
                    </TextField>
                    <SubmitButton label="Confirm" pending=confirm.pending() />
                </ActionForm>
            </div>
        }
        .into_any(),
    }
}

#[component]
fn ChangePasswordPanel() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    view! {
        <section class="panel" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <p>"Changing it signs you out everywhere else, and we mail you about it."</p>
            <ActionForm action attr:class="form-grid">
                    <TextField
                        id="current_password"
                        name="current_password"
                        label="Current password"
                        kind="password"
                        required=true
                        autocomplete="current-password"
                    />
                    <TextField
                        id="new_password"
                        name="new_password"
                        label="New password"
                        kind="password"
                        required=true
                        autocomplete="new-password"
                    >
                        "At least 12 characters."
                    </TextField>
                <FormResult
                    value=action.value()
                    success=|ended: u64| {
                        format!(
                            "Password changed. {}",
                            match ended {
                                0 => "You had no other session.".to_owned(),
                                1 => "1 other session was signed out.".to_owned(),
                                n => format!("{n} other sessions were signed out."),
                            },
                        )
                    }
                />
                <SubmitButton label="Change password" pending=action.pending() />
            </ActionForm>
        </section>
    }
}
