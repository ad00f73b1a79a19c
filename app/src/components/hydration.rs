//! The script that loads the wasm and hydrates the page, started after the page's first paint.
//!
//! Leptos' `HydrationScripts` preloads the wasm and its JS from the `<head>`: on a slow link the
//! wasm (most of the bytes) then shares the network with the CSS the first paint waits for, and
//! the first paint (what a visitor sees, the largest contentful paint) waits for it too.
//! Here nothing is preloaded; the wasm is fetched right after the first frame is painted.

use leptos::prelude::*;

#[component]
pub fn HydrationAfterPaint(options: LeptosOptions) -> impl IntoView {
    // The names change only with a new build, which restarts the server.
    static NAMES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (js, wasm) = NAMES.get_or_init(|| bundle_names(&options));
    let pkg = &options.site_pkg_dir;
    // requestAnimationFrame runs just before the next paint; the timeout, just after it. A page
    // opened in a background tab is not painted (nor are its animation frames run) until it is
    // shown: it starts at once instead.
    let script = format!(
        "{{const go=()=>import({js:?}).then(m=>m.default({{module_or_path:{wasm:?}}}).then(()=>m.hydrate()));document.hidden?go():requestAnimationFrame(()=>setTimeout(go,0))}}",
        js = format!("/{pkg}/{js}.js"),
        wasm = format!("/{pkg}/{wasm}.wasm"),
    );
    view! { <script type="module">{script}</script> }
}

/// The JS and wasm file names without extension: with `hash-files`, named by the hashes
/// cargo-leptos writes beside the server binary (as `HydrationScripts` finds them).
fn bundle_names(options: &LeptosOptions) -> (String, String) {
    let mut js = options.output_name.to_string();
    let mut wasm = js.clone();
    if options.hash_files {
        for (name, hash) in hash_file(options).lines().filter_map(|l| l.trim().split_once(':')) {
            match name {
                "js" => js = format!("{js}.{}", hash.trim()),
                "wasm" => wasm = format!("{wasm}.{}", hash.trim()),
                _ => {}
            }
        }
    } else if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
        wasm.push_str("_bg");
    }
    (js, wasm)
}

/// cargo-leptos' list of the bundle's hashes, beside the server binary.
fn hash_file(options: &LeptosOptions) -> String {
    #[cfg(feature = "ssr")]
    {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = options;
        String::new()
    }
}
