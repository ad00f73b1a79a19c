//! `/forgot-password` and `/reset-password?token=…`: a forgotten console password is reset
//! through a link mailed to the account's address. The first page's answer is the same
//! whether or not an account has the address.

use crate::{
    components::{
        form::{SubmitButton, TextField},
        layout::Brand,
        status::FormResult,
    },
    functions::auth::{ForgotPassword, ResetPassword},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    view! {
        <Title text="Forgot your password?" />
        <main class="standalone">
            <div class="card signin-card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <h1>"Forgot your password?"</h1>
                <p class="muted">
                    "Type your sign-in email. If it is an account's, a link to choose a new password is mailed to it; "
                    "the link works once, for an hour."
                </p>
                <ActionForm action>
                    <TextField id="email" name="email" label="Email" kind="email" required=true autocomplete="username" />
                    <FormResult
                        value=action.value()
                        success=|_| {
                            "If an account has this address, a reset link is on its way. Check your mail.".to_owned()
                        }
                    />
                    <SubmitButton label="Send the link" pending=action.pending() />
                </ActionForm>
                <p class="signin-links">
                    <A href="/signin">"Back to sign in"</A>
                </p>
            </div>
        </main>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let query = use_query_map();
    let done = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Title text="Choose a new password" />
        <main class="standalone">
            <div class="card signin-card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <h1>"Choose a new password"</h1>
                <Show
                    when=done
                    fallback=move || {
                        view! {
                            <ActionForm action>
                                <input type="hidden" name="token" value=move || query.read().get("token").unwrap_or_default() />
                                <TextField
                                    id="password"
                                    name="password"
                                    label="New password"
                                    kind="password"
                                    required=true
                                    autocomplete="new-password"
                                >
                                    "At least 12 characters."
                                </TextField>
                                <FormResult value=action.value() success=|_| String::new() />
                                <SubmitButton label="Set the password" pending=action.pending() />
                            </ActionForm>
                        }
                    }
                >
                    <p class="form-ok" role="status">
                        "Your password was changed, and every session of your account was signed out."
                    </p>
                    <p class="signin-links">
                        <A href="/signin">"Sign in with the new password"</A>
                    </p>
                </Show>
            </div>
        </main>
    }
}
