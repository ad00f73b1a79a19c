//! "Get a code" on the Approvals page: this browser, if it is one of the person's approval
//! devices, signs a single-use nonce from the console with its key and gets a one-time code for
//! one server login (for a phone without network). A portal session alone gets none.

use crate::models::utc;
#[cfg(feature = "hydrate")]
use crate::functions::login_codes::OneTimeCode;
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn GetCode(this_device: RwSignal<Option<Uuid>>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let got: RwSignal<Option<(String, String)>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let get = move |_| {
        let Some(device) = this_device.get_untracked() else {
            error.set(Some("Register this browser first: only an approval device can get a code.".into()));
            return;
        };
        busy.set(true);
        error.set(None);
        got.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match request(device).await {
                Ok(c) => got.set(Some((
                    c.code,
                    format!(
                        "Type it at the login prompt like any passcode. It works once, until {} ({} minutes). \
                         {} more this hour.",
                        utc(c.expires),
                        c.valid_minutes,
                        c.left_this_hour
                    ),
                ))),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (device, utc);
    };
    view! {
        <p>
            "No network on your phone? This browser can give you a one-time code for one login: type it at the "
            "server's login prompt instead of choosing a method. We mail you each time you get one."
        </p>
        {move || {
            this_device
                .get()
                .is_none()
                .then(|| {
                    view! {
                        <p class="hint">"Only a registered approval device can get a code: register this browser below."</p>
                    }
                })
        }}
        <div class="form-actions">
            <button
                type="button"
                class="button button-primary"
                id="get-code"
                disabled=move || busy.get() || this_device.get().is_none()
                on:click=get
            >
                "Get a code"
            </button>
        </div>
        {move || {
            got.get()
                .map(|(code, note)| {
                    view! {
                        <div class="login-code" role="status">
                            <p class="login-code-value mono" aria-label="Your one-time code">{code}</p>
                            <p class="small">{note}</p>
                        </div>
                    }
                })
        }}
        {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
    }
}

/// Nonce, signature, code.
#[cfg(feature = "hydrate")]
async fn request(device: Uuid) -> Result<OneTimeCode, String> {
    use crate::functions::login_codes::{code_nonce, get_code};
    let n = code_nonce().await.map_err(|e| e.to_string())?;
    let signature = crate::routes::portal::approvals::browser::sign(device, &proto::push::code_request_message(&n.nonce))
        .await?;
    get_code(device.to_string(), n.nonce, signature).await.map_err(|e| e.to_string())
}
