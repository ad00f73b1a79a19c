//! A long identifier (a topic's URN) shortened to fit a table cell, with its whole text in a
//! tooltip and a button that copies it.

use leptos::{prelude::*, wasm_bindgen::JsCast, web_sys::js_sys};

/// At most this many characters are shown.
const SHOWN: usize = 32;

/// `urn:smn:region:project:name` → `urn:smn:…:name`; anything still longer keeps its start
/// and end around an ellipsis.
pub fn shorten(urn: &str) -> String {
    let chars = urn.chars().count();
    if chars <= SHOWN {
        return urn.to_owned();
    }
    let parts: Vec<&str> = urn.split(':').collect();
    let short = match parts.as_slice() {
        [a, b, .., last] if parts.len() > 3 => format!("{a}:{b}:…:{last}"),
        _ => urn.to_owned(),
    };
    if short.chars().count() <= SHOWN {
        return short;
    }
    let head: String = urn.chars().take(SHOWN / 2).collect();
    let tail: String = urn.chars().skip(chars - (SHOWN / 2 - 1)).collect();
    format!("{head}…{tail}")
}

/// Puts `text` on the clipboard; false where the browser refuses.
pub(crate) fn copy(text: &str) -> bool {
    let write = || -> Option<()> {
        let get = |on: &js_sys::wasm_bindgen::JsValue, key: &str| js_sys::Reflect::get(on, &key.into()).ok();
        let clipboard = get(&get(&window(), "navigator")?, "clipboard")?;
        let write = get(&clipboard, "writeText")?.dyn_into::<js_sys::Function>().ok()?;
        write.call1(&clipboard, &text.into()).ok().map(|_| ())
    };
    write().is_some()
}

/// The URN last copied on a page that redraws its rows (a polled list): provided by that
/// page, so "Copied" outlives the row it was clicked in.
#[derive(Clone, Copy)]
pub struct LastCopied(pub RwSignal<Option<(String, bool)>>);

/// The URN, shortened, and "Copy" (`label` names it for screen readers: "Copy the URN of …").
#[component]
pub fn ShortUrn(urn: String, label: String) -> impl IntoView {
    let last = use_context::<LastCopied>().map(|c| c.0).unwrap_or_else(|| RwSignal::new(None));
    let mine = urn.clone();
    let copied = Signal::derive(move || last.read().as_ref().filter(|(u, _)| *u == mine).map(|(_, ok)| *ok));
    let short = shorten(&urn);
    view! {
        <span class="short-urn">
            <code class="mono small" title=urn.clone()>
                {short}
            </code>
            <button
                type="button"
                class="link-button small"
                aria-label=label
                on:click=move |_| last.set(Some((urn.clone(), copy(&urn))))
            >
                "Copy"
            </button>
            <span class="small muted" aria-live="polite">
                {move || match copied.get() {
                    Some(true) => "Copied",
                    Some(false) => "Copy refused by the browser",
                    None => "",
                }}
            </span>
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_urns_keep_their_kind_and_name() {
        let urn = "urn:smn:cn-north-4:0a1b2c3d4e5f60718293a4b5c6d7e8f9:login-codes";
        assert_eq!(shorten(urn), "urn:smn:…:login-codes");
        assert_eq!(shorten("urn:smn:r:p:x"), "urn:smn:r:p:x");
        let long_name = format!("urn:smn:cn-north-4:0a1b2c3d:{}", "n".repeat(100));
        let short = shorten(&long_name);
        assert_eq!(short.chars().count(), 32);
        assert!(short.starts_with("urn:smn:cn-north") && short.ends_with("nnn"), "{short}");
    }
}
