//! "Notify this browser": subscribes the browser to Web Push notifications of the person's
//! pending logins (the work is `/push-subscribe.js`'s, with the service worker `/sw.js`). A
//! notification opens the Approvals page; approving still needs the number and this page.

use leptos::prelude::*;
use leptos_meta::Script;

#[component]
pub fn PushNotifications() -> impl IntoView {
    let message: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let enable = move |_| {
        busy.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            message.set(Some(browser::enable().await));
            busy.set(false);
        });
    };
    view! {
        <Script src="/push-subscribe.js" defer="defer" />
        <p>
            "Get a notification on this browser when a login waits for you, even with this page closed. "
            "It only opens this page: you still type the number the prompt shows."
        </p>
        <div class="form-actions">
            <button type="button" class="button" on:click=enable disabled=move || busy.get()>
                "Notify this browser"
            </button>
        </div>
        {move || message.get().map(|text| view! { <p role="status">{text}</p> })}
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::{
        wasm_bindgen::{JsCast, JsValue},
        web_sys::js_sys,
    };

    /// Calls `hostguardPush.enable()` and gives back the sentence it resolves to.
    pub async fn enable() -> String {
        let failed = |e: JsValue| {
            let why = e.as_string().or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok()?.as_string());
            format!("Not subscribed: {}", why.unwrap_or_else(|| "the browser refused".into()))
        };
        let Some(window) = leptos::web_sys::window() else { return "No browser window.".into() };
        let call = js_sys::Reflect::get(&window, &"hostguardPush".into())
            .and_then(|o| Ok((js_sys::Reflect::get(&o, &"enable".into())?, o)))
            .ok()
            .and_then(|(f, o)| Some((f.dyn_into::<js_sys::Function>().ok()?, o)));
        let Some((f, this)) = call else { return "The page is still loading; try again.".into() };
        let promise = match f.call0(&this) {
            Ok(p) => js_sys::Promise::from(p),
            Err(e) => return failed(e),
        };
        match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(v) => v.as_string().unwrap_or_default(),
            Err(e) => failed(e),
        }
    }
}
