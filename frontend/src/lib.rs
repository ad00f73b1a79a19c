//! The wasm entry point: hydrates the server-rendered console.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The pages are lazy routes (app/src/routes/lazy.rs): hydration waits for the page's chunk.
    leptos::mount::hydrate_lazy(app::App);
}
