//! `/invite?token=…`: the invitation link's page, public (the token is the proof) and made for
//! a phone. Opening it (a GET, as mail scanners do) only shows what the link is for; the person
//! then chooses a password and adds a first sign-in method: an authenticator app (QR code, a
//! link that opens the app on this phone, and the secret with Copy) confirmed with a code, or a
//! passkey on this device. That makes the account active and signs them in to the portal. These
//! pages are the only place a first sign-in method is added.

use crate::{
    components::{
        form::SubmitButton,
        layout::Brand,
        urn::copy,
    },
    functions::invitations::{
        preview_invitation, BeginInvitationAuthenticator, ConfirmInvitationAuthenticator, SetInvitationPassword,
    },
    models::{
        users::{InvitationAuthenticator, InvitationLink},
        utc, AppError,
    },
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::{Script, Title};
use leptos_router::hooks::use_query_map;

fn problem(e: AppError) -> AnyView {
    match e {
        AppError::NotFound(_) => view! {
            <h1>"This invitation link is not valid"</h1>
            <p role="alert">
                "It may have been copied incompletely, or replaced by a newer invitation. Use the link in the newest invitation you received."
            </p>
        }
        .into_any(),
        e => view! {
            <h1>"This invitation cannot be used"</h1>
            <p role="alert">{e.to_string()}</p>
        }
        .into_any(),
    }
}

#[component]
pub fn InvitePage() -> impl IntoView {
    let query = use_query_map();
    let token = Memo::new(move |_| query.read().get("token").unwrap_or_default());
    let password = ServerAction::<SetInvitationPassword>::new();
    let begin = ServerAction::<BeginInvitationAuthenticator>::new();
    let confirm = ServerAction::<ConfirmInvitationAuthenticator>::new();
    let preview = resource(move || token.get(), preview_invitation);
    view! {
        <Title text="Accept your invitation" />
        // Outside the Suspense below: the passkey step needs it (see `Passkey`).
        <Script src="/passkey.js" defer="defer" />
        <main class="standalone invite-page">
            <div class="card invite-card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <Suspense fallback=|| view! { <p class="loading">"Checking the link…"</p> }>
                    {move || Suspend::new(async move {
                        let link = match preview.await {
                            Ok(l) => l,
                            Err(e) => return problem(e),
                        };
                        view! { <Steps link token password begin confirm /> }.into_any()
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
fn Steps(
    link: InvitationLink,
    token: Memo<String>,
    password: ServerAction<SetInvitationPassword>,
    begin: ServerAction<BeginInvitationAuthenticator>,
    confirm: ServerAction<ConfirmInvitationAuthenticator>,
) -> impl IntoView {
    let password_set = move || link.password_set || matches!(password.value().get(), Some(Ok(_)));
    let intro = format!(
        "{} invites {} to HostGuard, which asks for a second factor when you log in to their servers. Your sign-in name \
         is {}. This link works until {}.",
        link.tenant_name,
        link.display_name,
        link.email,
        utc(link.expires)
    );
    let email = link.email.clone();
    // Signed in now: load the portal anew, so that every part of it knows who is signed in.
    Effect::new(move |_| {
        if matches!(confirm.value().get(), Some(Ok(()))) {
            let _ = window().location().set_href("/portal");
        }
    });
    view! {
        <h1>"Accept your invitation"</h1>
        <p>{intro}</p>
        <ol class="invite-progress" aria-label="Steps">
            <li aria-current=move || (!password_set()).then_some("step")>"Choose a password"</li>
            <li aria-current=move || (password_set() && confirm.value().get().is_none()).then_some("step")>"Add an authenticator app or a passkey"</li>
            <li>"Done: you are signed in"</li>
        </ol>
        {move || {
            if matches!(confirm.value().get(), Some(Ok(()))) {
                return view! {
                    <p class="form-ok" role="status">"Your account is active and you are signed in."</p>
                    <p><a href="/portal" class="button button-primary">"Go to your portal"</a></p>
                }
                    .into_any();
            }
            if !password_set() {
                let email = email.clone();
                return view! {
                    <section aria-labelledby="password-heading">
                        <h2 id="password-heading">"1. Choose a password"</h2>
                        <ActionForm action=password>
                            <input type="hidden" name="token" value=token.get_untracked() />
                            // For password managers: the account the password is for.
                            <input type="email" name="username" value=email autocomplete="username" hidden readonly />
                            <div class="field">
                                <label for="new-password">"Password"</label>
                                <input id="new-password" name="password" type="password" autocomplete="new-password" minlength="12" maxlength="1024" required />
                                <p class="hint">"At least 12 characters."</p>
                            </div>
                            <div class="field">
                                <label for="repeat-password">"Password again"</label>
                                <input id="repeat-password" name="repeat" type="password" autocomplete="new-password" minlength="12" maxlength="1024" required />
                            </div>
                            <Outcome result=password.value() />
                            <SubmitButton label="Save password" pending=password.pending() />
                        </ActionForm>
                    </section>
                }
                    .into_any();
            }
            view! {
                <Authenticator token begin confirm />
                <Passkey token />
            }
                .into_any()
        }}
    }
}

/// Or a passkey on this device (a phone's screen lock, a laptop's fingerprint, a security key):
/// it makes the account active and signs the person in, as an app does.
#[component]
fn Passkey(token: Memo<String>) -> impl IntoView {
    let note = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let start = move |_| {
        busy.set(true);
        note.set(None);
        #[cfg(not(feature = "hydrate"))]
        let _ = (token, name);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match browser::add_passkey(token.get_untracked(), name.get_untracked()).await {
                Ok(()) => {
                    note.set(Some(Ok("Your passkey is added: your account is active and you are signed in.".into())));
                    let _ = window().location().set_href("/portal");
                }
                Err(e) => {
                    note.set(Some(Err(e)));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <section aria-labelledby="passkey-heading">
            <h2 id="passkey-heading">"Or use a passkey"</h2>
            <p>
                "A passkey stays on this device (or your security key) and is unlocked with its screen lock or your "
                "fingerprint: nothing to type. Your account becomes active once it is added."
            </p>
            <div class="field">
                <label for="passkey-name">"Name of this passkey"</label>
                <input
                    id="passkey-name"
                    type="text"
                    maxlength="64"
                    placeholder="My laptop"
                    autocomplete="off"
                    bind:value=name
                />
            </div>
            <button type="button" class="button button-secondary" on:click=start disabled=move || busy.get()>
                "Add a passkey"
            </button>
            {move || {
                note.get()
                    .map(|m| match m {
                        Ok(text) => view! { <p class="form-ok" role="status">{text}</p> }.into_any(),
                        Err(text) => view! { <p class="form-error" role="alert">{text}</p> }.into_any(),
                    })
            }}
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::functions::invitations::{begin_invitation_passkey, finish_invitation_passkey};

    pub async fn add_passkey(token: String, name: String) -> Result<(), String> {
        let c = begin_invitation_passkey(token.clone(), name).await.map_err(|e| e.to_string())?;
        let answer = crate::components::passkey::browser::credential("create", &c.options).await?;
        finish_invitation_passkey(token, c.ceremony_id.to_string(), answer).await.map_err(|e| e.to_string())
    }
}

/// A step's error, if its last try failed.
#[component]
fn Outcome<T, S>(result: S) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || {
        result.get().and_then(|r| r.err()).map(|e| {
            let text = match e {
                AppError::Invalid(errors) => errors
                    .iter()
                    .map(|f| format!("{}: {}", crate::models::field_label(&f.field), f.message))
                    .collect::<Vec<_>>()
                    .join(" "),
                e => e.to_string(),
            };
            view! { <p class="form-error" role="alert">{text}</p> }
        })
    }
}

#[component]
fn Authenticator(
    token: Memo<String>,
    begin: ServerAction<BeginInvitationAuthenticator>,
    confirm: ServerAction<ConfirmInvitationAuthenticator>,
) -> impl IntoView {
    view! {
        <section aria-labelledby="app-heading">
            <h2 id="app-heading">"2. Add an authenticator app"</h2>
            <p>
                "Install an authenticator app on your phone (Microsoft Authenticator, Google Authenticator or another) "
                "if you have none. Your account becomes active once the app's code is confirmed."
            </p>
            {move || match begin.value().get() {
                Some(Ok(e)) => view! { <Enrol e token confirm /> }.into_any(),
                other => view! {
                    <ActionForm action=begin>
                        <input type="hidden" name="token" value=token.get_untracked() />
                        <div class="field">
                            <label for="app-name">"Name of this authenticator"</label>
                            <input id="app-name" name="name" type="text" maxlength="64" placeholder="My phone" autocomplete="off" />
                        </div>
                        {other.and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
                        <SubmitButton label="Show the code to add" pending=begin.pending() />
                    </ActionForm>
                }
                .into_any(),
            }}
        </section>
    }
}

#[component]
fn Enrol(
    e: InvitationAuthenticator,
    token: Memo<String>,
    confirm: ServerAction<ConfirmInvitationAuthenticator>,
) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let secret = e.secret.clone();
    view! {
        <div class="enrolment">
            <p>
                <a class="button button-secondary button-block" href=e.otpauth_uri.clone()>
                    "Open in the authenticator app on this phone"
                </a>
            </p>
            <p class="hint">"Or scan this QR code with the app on another phone:"</p>
            <img class="qr" src=e.qr_data_uri.clone() width="200" height="200" alt="QR code to add HostGuard to an authenticator app" />
            <div class="field">
                <label for="app-secret">"Secret key"</label>
                <div class="copy-row">
                    <input id="app-secret" class="mono" type="text" readonly value=e.secret.clone() />
                    <button type="button" class="button button-secondary" on:click=move |_| copied.set(Some(copy(&secret)))>
                        "Copy"
                    </button>
                </div>
                <p class="hint" aria-live="polite">
                    {move || match copied.get() {
                        Some(true) => "Copied. Paste it into the app: time-based, 6 digits, 30 seconds.",
                        Some(false) => "The browser refused to copy; select the key and copy it by hand.",
                        None => "Can't scan or open the app? Type this key into the app instead (time-based, 6 digits, 30 seconds).",
                    }}
                </p>
            </div>
            <ActionForm action=confirm>
                <input type="hidden" name="token" value=token.get_untracked() />
                <input type="hidden" name="id" value=e.id.to_string() />
                <div class="field">
                    <label for="app-code">"Code from the app"</label>
                    <input id="app-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required />
                    <p class="hint">{format!("Confirm by {}.", utc(e.expires))}</p>
                </div>
                <Outcome result=confirm.value() />
                <SubmitButton label="Confirm and finish" pending=confirm.pending() />
            </ActionForm>
        </div>
    }
}
