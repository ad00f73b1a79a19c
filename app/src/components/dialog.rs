//! The console's one modal dialog: a native `<dialog>` opened with `showModal()`, so focus
//! moves into it, the page behind is inert and Escape closes it. Tab stays inside, and focus
//! goes back to the control that opened it.

use leptos::{
    prelude::*,
    wasm_bindgen::JsCast,
    web_sys::{self, js_sys},
};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// What can take focus inside the dialog; of a radio group only the checked one.
const FOCUSABLE: &str = "a[href], button:not([disabled]), select:not([disabled]), textarea:not([disabled]), \
    input:not([disabled]):not([type=hidden]):not([type=radio]), input[type=radio]:checked:not([disabled])";

/// A modal dialog named by its `title`. Rendered while open: the caller shows it while its
/// state says so, and `on_close` (Escape, or the caller's own Close button) clears that state.
#[component]
pub fn Modal(title: String, #[prop(into)] on_close: Callback<()>, children: Children) -> impl IntoView {
    let title_id = format!("dialog-title-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let node = NodeRef::<leptos::html::Dialog>::new();
    // The control that opened the dialog, by id: a list that reloads meanwhile replaces the
    // element, and a stable id finds its successor. One without an id gets one.
    // Dialogs open on a click, so only in the browser; never while rendering on the server.
    let active = if cfg!(feature = "ssr") { None } else { document().active_element() };
    let opener = active.map(|el| {
        if el.id().is_empty() {
            el.set_id(&format!("dialog-opener-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)));
        }
        el.id()
    });
    Effect::new(move |_| {
        if let Some(dialog) = node.get() {
            if !dialog.open() {
                let _ = dialog.show_modal();
            }
        }
    });
    on_cleanup(move || {
        let Some(id) = opener else { return };
        // After the dialog has left the page, which is inert while it is open.
        request_animation_frame(move || {
            let el = document().get_element_by_id(&id).and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(el) = el {
                let _ = el.focus();
            }
        });
    });
    // Browsers let Tab leave a modal dialog for their own toolbar; keep it going round inside.
    let keep_focus = move |ev: web_sys::KeyboardEvent| {
        let Some(dialog) = node.get_untracked() else { return };
        if ev.key() != "Tab" {
            return;
        }
        // `querySelectorAll` by name: web-sys is built without its NodeList binding.
        let Some(list) = js_sys::Reflect::get(&dialog, &"querySelectorAll".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call1(&dialog, &FOCUSABLE.into()).ok())
        else {
            return;
        };
        let list = js_sys::Array::from(&list);
        let node = |i: u32| list.get(i).dyn_into::<web_sys::Node>().ok();
        let (Some(first), Some(last)) = (node(0), node(list.length().saturating_sub(1))) else { return };
        let active: Option<web_sys::Node> = document().active_element().map(Into::into);
        let wrap_to = match (ev.shift_key(), active) {
            (false, Some(a)) if a == last => Some(first),
            (true, Some(a)) if a == first => Some(last),
            (_, Some(a)) if dialog.contains(Some(&a)) => None,
            _ => Some(first),
        };
        if let Some(el) = wrap_to.and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
            ev.prevent_default();
            let _ = el.focus();
        }
    };
    let labelled_by = title_id.clone();
    view! {
        <dialog
            node_ref=node
            class="modal"
            aria-modal="true"
            aria-labelledby=labelled_by
            on:cancel=move |ev: web_sys::Event| {
                ev.prevent_default();
                on_close.run(());
            }
            on:close=move |_| on_close.run(())
            on:keydown=keep_focus
        >
            <h2 id=title_id>{title}</h2>
            {children()}
        </dialog>
    }
}

/// "Delete …?": the question, what follows, and Delete / Cancel. Delete runs `on_confirm`
/// and closes; the page shows the outcome.
#[component]
pub fn ConfirmDelete(
    title: String,
    message: String,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    view! {
        <Modal title on_close>
            <p>{message}</p>
            <div class="form-actions">
                <button
                    type="button"
                    class="button button-danger"
                    on:click=move |_| {
                        on_confirm.run(());
                        on_close.run(());
                    }
                >
                    "Delete"
                </button>
                <button type="button" class="button button-secondary" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
            </div>
        </Modal>
    }
}
