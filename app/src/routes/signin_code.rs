//! `/signin/code`: the second step of a console sign-in, after a right password, for people
//! with a console authenticator; `/signin/enrol`: for those who must have one and have none,
//! adding it right after the password (nothing else is reachable before). Kept apart from `/signin` so other ways to sign in can sit on
//! that page beside the password form.

use crate::{
    components::layout::{Auth, Brand},
    functions::auth::{BeginSignInEnrolment, SignInEnrolment},
    models::{utc, AppError},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn SignInCodePage() -> impl IntoView {
    // Auth's, so the signed-in user is fetched again once the code is right.
    let action = expect_context::<Auth>().sign_in_code;
    let query = use_query_map();
    let error = move || match action.value().get() {
        Some(result) => result.err().map(|e| e.to_string()),
        None => query.read().get("error").and_then(|c| AppError::message_for_code(&c)).map(str::to_owned),
    };
    view! {
        <Title text="Enter your code" />
        <main class="standalone">
            <div class="card signin-card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <h1>"Enter your code"</h1>
                <p class="muted">"Open your authenticator app and type the 6-digit code it shows for HostGuard (console)."</p>
                <ActionForm action>
                    <input type="hidden" name="next" value=move || query.read().get("next").unwrap_or_default() />
                    <div class="field">
                        <label for="code">"Code"</label>
                        <input
                            id="code"
                            name="code"
                            type="text"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength="7"
                            required
                            autofocus
                        />
                    </div>
                    {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    <button type="submit" class="button button-primary button-block" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Checking…" } else { "Verify" }}
                    </button>
                </ActionForm>
                <p class="signin-links">
                    <A href="/signin">"Start again"</A>
                </p>
            </div>
        </main>
    }
}

#[component]
pub fn SignInEnrolPage() -> impl IntoView {
    let begin = ServerAction::<BeginSignInEnrolment>::new();
    let confirm = expect_context::<Auth>().sign_in_enrol;
    let query = use_query_map();
    view! {
        <Title text="Add an authenticator app" />
        <main class="standalone">
            <div class="card signin-card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <h1>"Add an authenticator app"</h1>
                <p class="muted">
                    "Your account signs in to the console with a password and a code from an authenticator app "
                    "(Microsoft Authenticator, Google Authenticator or another). Add one now to finish signing in."
                </p>
                <ActionForm action=begin>
                    <div class="field">
                        <label for="enrol-name">"Name"</label>
                        <input id="enrol-name" name="name" type="text" maxlength="64" placeholder="My phone" />
                    </div>
                    <button type="submit" class="button button-secondary" disabled=move || begin.pending().get()>
                        "Show the QR code"
                    </button>
                </ActionForm>
                {move || match begin.value().get() {
                    None => ().into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Some(Ok(SignInEnrolment { authenticator: e, mailed_to })) => view! {
                        <div class="enrolment">
                            <img class="qr" src=e.qr_data_uri.clone() width="200" height="200" alt="QR code to add the HostGuard console to an authenticator app" />
                            <div class="field secret-key">
                                <label for="enrol-secret">"Secret key"</label>
                                <textarea id="enrol-secret" class="mono" readonly rows="2" spellcheck="false">
                                    {e.secret.clone()}
                                </textarea>
                            </div>
                            <ActionForm action=confirm>
                                <input type="hidden" name="id" value=e.id.to_string() />
                                <input type="hidden" name="next" value=move || query.read().get("next").unwrap_or_default() />
                                <div class="field">
                                    <label for="enrol-code">"Code from the app"</label>
                                    <input id="enrol-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required />
                                    <p class="hint">{format!("Confirm by {}.", utc(e.expires))}</p>
                                </div>
                                <div class="field">
                                    <label for="enrol-mail-code">"Code from the email"</label>
                                    <input id="enrol-mail-code" name="mail_code" type="text" inputmode="numeric" autocomplete="off" maxlength="7" required />
                                    <p class="hint">
                                        {format!("We sent it to {mailed_to}, to check that this is your mailbox. It works for 15 minutes.")}
                                    </p>
                                </div>
                                {move || confirm.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
                                <button type="submit" class="button button-primary button-block" disabled=move || confirm.pending().get()>
                                    "Confirm and sign in"
                                </button>
                            </ActionForm>
                        </div>
                    }
                    .into_any(),
                }}
                <p class="signin-links">
                    <A href="/signin">"Start again"</A>
                </p>
            </div>
        </main>
    }
}
