//! `/signin/code`: the second step of a console sign-in, after a right password, for people
//! with a console authenticator. Kept apart from `/signin` so other ways to sign in can sit on
//! that page beside the password form.

use crate::{
    components::layout::{Auth, Brand},
    models::AppError,
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
