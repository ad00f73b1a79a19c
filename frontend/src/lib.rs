//! The wasm entry point: hydrates the server-rendered console.

use leptos::prelude::document;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // As `leptos::mount::hydrate_lazy`, which the pages' lazy routes (app/src/routes/lazy.rs)
    // need: hydration waits for the page's wasm chunk. Then the page is marked hydrated, for
    // people and tests who need to know that clicks are handled.
    _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let Some(body) = document().body() else { return };
        let owner = leptos::mount::hydrate_from_async(body.clone(), app::App).await;
        owner.forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
