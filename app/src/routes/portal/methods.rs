//! The portal's Sign-in methods, as on Microsoft's "Security info" page: the end user's
//! authenticator apps (add with a QR code and a confirming code, remove) and recovery codes
//! (generate a new set, shown once). A change needs a current code from a method the user has
//! (asked for once, then good for a few minutes in this session), or for a first method an
//! enrolment window the user's administrator opened.

use crate::{
    components::{
        form::{RowAction, SubmitButton, TextField},
        status::{DataTable, FormResult, Loaded, PageHeader},
    },
    functions::portal::{
        my_sign_in_methods, BeginAuthenticator, ConfirmAuthenticator, GenerateRecoveryCodes, RemoveAuthenticator,
        StepUp,
    },
    models::{utc, AppError, NewAuthenticator, SignInMethods},
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInMethodsPage() -> impl IntoView {
    let begin = ServerAction::<BeginAuthenticator>::new();
    let confirm = ServerAction::<ConfirmAuthenticator>::new();
    let remove = ServerAction::<RemoveAuthenticator>::new();
    let generate = ServerAction::<GenerateRecoveryCodes>::new();
    let step_up = ServerAction::<StepUp>::new();
    let methods = Resource::new(
        move || {
            (
                confirm.version().get(),
                remove.version().get(),
                generate.version().get(),
                step_up.version().get(),
                // A failed start may mean the step-up ran out: show the form again.
                begin.version().get(),
            )
        },
        |_| my_sign_in_methods(),
    );
    // The enrolment on screen is over once its code was accepted.
    let enrolling = move || match begin.value().get() {
        Some(Ok(e)) if was_confirmed(&e, confirm) => None,
        other => other,
    };
    view! {
        <Title text="Sign-in methods" />
        <PageHeader title="Sign-in methods">
            <p>
                "When you log in to one of your organisation's servers, HostGuard asks for a code from your "
                "authenticator app. Keep recovery codes for when your phone is not at hand."
            </p>
        </PageHeader>
        <Loaded resource=methods ok=move |m| view! { <Guard methods=m step_up /> } />
        <section class="panel">
            <h2>"Authenticator apps"</h2>
            <FormResult value=remove.value() success=|_| "Authenticator removed.".to_owned() />
            <FormResult value=confirm.value() success=|a: crate::models::AuthenticatorRow| format!("{} added.", a.name) />
            <Loaded
                resource=methods
                ok=move |m| {
                    let count = m.authenticators.len();
                    view! {
                        {if m.authenticators.is_empty() {
                            view! {
                                <p class="empty">"No authenticator yet: add one to log in to servers."</p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <DataTable headers=&["Name", "Added", "Last used", "Operation"]>
                                    {m
                                        .authenticators
                                        .into_iter()
                                        .map(|a| {
                                            let label = format!("Remove {}", a.name);
                                            view! {
                                                <tr>
                                                    <td>{a.name.clone()}</td>
                                                    <td class="small">{utc(a.added)}</td>
                                                    <td class="small">
                                                        {a.last_used.map(utc).unwrap_or_else(|| "Never".to_owned())}
                                                    </td>
                                                    <td>
                                                        <RowAction action=remove value=a.id.to_string() text="Remove" label />
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </DataTable>
                            }
                                .into_any()
                        }}
                        <p class="hint">
                            {format!("{count} of {} authenticators.", m.max_authenticators)}
                        </p>
                    }
                }
            />
            <h2>"Add an authenticator app"</h2>
            <ActionForm action=begin attr:class="form-grid">
                <TextField id="app-name" label="Name" name="name" maxlength="64" placeholder="My phone">
                    "Optional. Helps you tell your devices apart."
                </TextField>
                <SubmitButton label="Add authenticator" pending=begin.pending() />
            </ActionForm>
            {move || enrolling().map(|r| view! { <Enrolment result=r confirm /> })}
        </section>
        <RecoveryCodes methods generate />
    }
}

/// What a change needs now, and the one field that gives it: a current code (a step-up), or,
/// with no method yet, an enrolment window only the administrator can open.
#[component]
fn Guard(methods: SignInMethods, step_up: ServerAction<StepUp>) -> impl IntoView {
    let minutes = methods.step_up_minutes;
    let heading = if methods.has_factor || methods.verified_until.is_some() {
        "Confirm it's you"
    } else {
        "Your first sign-in method"
    };
    let body = match (methods.has_factor, methods.verified_until.map(utc), methods.enrolment_open_until.map(utc)) {
        (_, Some(until), _) => view! {
            <p class="verified">
                {format!("Code accepted: you can change your sign-in methods until {until}.")}
            </p>
        }
        .into_any(),
        (true, None, _) => view! {
            <p>
                {format!(
                    "To add or remove an authenticator app or make new recovery codes, first enter a current code \
                     from your authenticator app or one of your recovery codes. This keeps someone who learnt your \
                     password from changing how you log in. The code lets you make changes for {minutes} minutes."
                )}
            </p>
            <ActionForm action=step_up attr:class="form-grid">
                <TextField id="step-up-code" label="Current code" name="code" required=true maxlength="32" autocomplete="one-time-code">
                    "6 digits from your app, or a recovery code (it is then used up)."
                </TextField>
                <SubmitButton label="Verify" pending=step_up.pending() />
            </ActionForm>
        }
        .into_any(),
        (false, _, Some(until)) => view! {
            <p class="notice">
                {format!(
                    "Your administrator opened enrolment until {until}: add your first sign-in method below, an \
                     authenticator app or recovery codes."
                )}
            </p>
        }
        .into_any(),
        (false, _, None) => view! {
            <p class="notice notice-warn">
                <b>"Ask your administrator to open enrolment."</b>
                " You have no sign-in method yet. A first one can be added only while enrolment is open, which "
                "your administrator does for you for 24 hours, so that a password alone never adds one."
            </p>
        }
        .into_any(),
    };
    view! {
        <section class="panel" aria-labelledby="guard-heading">
            <h2 id="guard-heading">{heading}</h2>
            {body}
            {move || {
                step_up
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| {
                        view! {
                            <p class="form-error" role="alert">
                                {e.to_string()}
                            </p>
                        }
                    })
            }}
        </section>
    }
}

fn was_confirmed(e: &NewAuthenticator, confirm: ServerAction<ConfirmAuthenticator>) -> bool {
    matches!(confirm.value().get(), Some(Ok(a)) if a.id == e.id)
}

/// An authenticator being added: the QR code and the secret as text, and the code to confirm.
#[component]
fn Enrolment(result: Result<NewAuthenticator, AppError>, confirm: ServerAction<ConfirmAuthenticator>) -> impl IntoView {
    match result {
        Err(e) => view! {
            <p class="form-error" role="alert">
                {e.to_string()}
            </p>
        }
        .into_any(),
        Ok(e) => view! {
            <div class="enrolment">
                <ol class="steps">
                    <li>
                        "In your authenticator app (Microsoft Authenticator, Google Authenticator or another), "
                        "add an account and scan this QR code."
                    </li>
                    <li>"Type the 6-digit code the app shows, then confirm."</li>
                </ol>
                <img class="qr" src=e.qr_data_uri.clone() width="200" height="200" alt="QR code to add HostGuard to an authenticator app" />
                <TextField id="app-secret" label="Secret key" value=e.secret.clone() class="mono">
                    "Can't scan? Type this key into the app instead (time-based, 6 digits, 30 seconds)."
                </TextField>
                <ActionForm action=confirm attr:class="form-grid">
                    <input type="hidden" name="id" value=e.id.to_string() />
                    <div class="field">
                        <label for="app-code">"Code from the app"</label>
                        <input
                            id="app-code"
                            name="code"
                            type="text"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength="7"
                            required
                        />
                        <p class="hint">{format!("Confirm by {}, or add the authenticator again.", utc(e.expires))}</p>
                    </div>
                    <SubmitButton label="Confirm" pending=confirm.pending() />
                </ActionForm>
            </div>
        }
        .into_any(),
    }
}

#[component]
fn RecoveryCodes(
    methods: Resource<Result<crate::models::SignInMethods, AppError>>,
    generate: ServerAction<GenerateRecoveryCodes>,
) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>"Recovery codes"</h2>
            <p>
                "Each recovery code logs you in once instead of a code from the app. Keep them somewhere safe, "
                "away from your phone."
            </p>
            <Loaded
                resource=methods
                ok=move |m| {
                    view! {
                        <p class="recovery-status">
                            {match m.recovery_generated.map(utc) {
                                Some(at) => format!("{} of {} recovery codes left (made {at}).", m.recovery_left, m.recovery_total),
                                None => "You have no recovery codes.".to_owned(),
                            }}
                        </p>
                    }
                }
            />
            <ActionForm action=generate>
                <button type="submit" class="button button-secondary" disabled=move || generate.pending().get()>
                    "Generate new recovery codes"
                </button>
                <p class="hint">"Any codes you have now stop working."</p>
            </ActionForm>
            {move || {
                generate
                    .value()
                    .get()
                    .map(|r| match r {
                        Err(e) => {
                            view! {
                                <p class="form-error" role="alert">
                                    {e.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                        Ok(codes) => {
                            view! {
                                <div class="new-codes" role="status">
                                    <p class="notice notice-warn">
                                        <b>"Save these codes now."</b>
                                        " They are shown only this once. Each works once; generating new codes makes these stop working."
                                    </p>
                                    <ol class="recovery-codes mono">
                                        {codes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                                    </ol>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
}
