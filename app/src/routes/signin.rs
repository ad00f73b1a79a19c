//! `/signin`: email and password. Errors never say whether the account exists.

use crate::{
    components::layout::{Auth, Brand},
    models::AppError,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let action = auth.sign_in;
    let query = use_query_map();
    // The error of the last attempt: from the app, or from the URL after a plain form post.
    let error = move || match action.value().get() {
        Some(result) => result.err().map(|e| e.to_string()),
        None => query.read().get("error").and_then(|c| AppError::message_for_code(&c)).map(str::to_owned),
    };
    view! {
        <Title text="Sign in" />
        <main class="standalone">
            <div class="card signin-card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <h1>"Sign in"</h1>
                <p class="muted">"Two-factor protection for every login to your servers."</p>
                <ActionForm action>
                    <input type="hidden" name="next" value=move || query.read().get("next").unwrap_or_default() />
                    <div class="field">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required autofocus />
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required />
                    </div>
                    {move || {
                        error()
                            .map(|e| {
                                view! {
                                    <p class="form-error" role="alert">
                                        {e}
                                    </p>
                                }
                            })
                    }}
                    <button
                        type="submit"
                        class="button button-primary button-block"
                        disabled=move || action.pending().get()
                    >
                        {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
                <crate::components::passkey::PasskeySignIn />
                <p class="signin-links">
                    <A href="/forgot-password">"Forgot your password?"</A>
                </p>
            </div>
        </main>
    }
}
