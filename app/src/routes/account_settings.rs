//! `/account/security`: the signed-in person's own sign-in settings: their password (the
//! current one needed; their other sessions end).

use crate::{
    components::{
        form::{SubmitButton, TextField},
        status::{FormResult, PageHeader},
    },
    functions::auth::ChangePassword,
};
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
