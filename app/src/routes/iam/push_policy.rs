//! The tenant's push policy on the Users page: whether "This wasn't me" on a push request also
//! locks the person who reported it (off by default; the report always denies the login, pauses
//! the person's notifications and mails the tenant's admins).

use crate::{
    components::{form::SubmitButton, status::Loaded},
    functions::approvals::{push_policy, SavePushPolicy},
    models::AppError,
};
use crate::components::resource::resource;
use leptos::prelude::*;

#[component]
pub fn PushPolicyPanel() -> impl IntoView {
    let save = ServerAction::<SavePushPolicy>::new();
    let policy = resource(move || save.version().get(), |_| push_policy());
    view! {
        <section class="panel push-policy" aria-labelledby="push-policy-heading">
            <h2 id="push-policy-heading">"When someone reports a push as not theirs"</h2>
            <Loaded resource=policy ok=move |lock| view! { <PolicyForm lock save /> } />
            {move || match save.value().get() {
                Some(Ok(())) => view! {
                    <p class="form-ok" role="status">"Saved. It applies to the next report."</p>
                }
                .into_any(),
                Some(Err(e)) => view! {
                    <p class="form-error" role="alert">{AppError::to_string(&e)}</p>
                }
                .into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

#[component]
fn PolicyForm(lock: bool, save: ServerAction<SavePushPolicy>) -> impl IntoView {
    view! {
        <ActionForm action=save attr:class="form-grid">
            <fieldset class="field-wide" aria-describedby="push-policy-hint">
                <legend>"\u{201c}This wasn't me\u{201d} on a push request"</legend>
                <label class="radio">
                    <input type="radio" name="lock_on_fraud_report" value="false" checked=!lock />
                    "Deny the login, pause the person's push notifications for 20 minutes and email the admins (default)"
                </label>
                <label class="radio">
                    <input type="radio" name="lock_on_fraud_report" value="true" checked=lock />
                    "Also lock the person: they cannot sign in and their logins to servers are denied until an admin unlocks them"
                </label>
                <p class="hint" id="push-policy-hint">
                    "A report means someone else may know the person's server password. Locking stops every login at once; "
                    "unlock them here once the password has been changed."
                </p>
            </fieldset>
            <SubmitButton label="Save" pending=save.pending() />
        </ActionForm>
    }
}
