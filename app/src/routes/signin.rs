//! `/signin`: email and password. Errors never say whether the account exists.

use crate::components::layout::Auth;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let action = auth.sign_in;
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <Title text="Sign in"/>
        <main class="standalone">
            <div class="card signin-card">
                <div class="signin-brand">
                    <span class="brand-mark" aria-hidden="true">"HG"</span>
                    <span class="brand-name">"HostGuard"</span>
                </div>
                <h1>"Sign in"</h1>
                <p class="muted">"Two-factor protection for every login to your servers."</p>
                <ActionForm action>
                    <div class="field">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required autofocus/>
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required/>
                    </div>
                    {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    <button type="submit" class="button button-primary button-block" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
