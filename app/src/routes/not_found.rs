use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::models::set_status(http::StatusCode::NOT_FOUND);
    view! {
        <Title text="Page not found" />
        <main class="standalone">
            <div class="card">
                <h1>"Page not found"</h1>
                <p>"There is no page at this address."</p>
                <p>
                    <a href="/">"Go to the console"</a>
                </p>
            </div>
        </main>
    }
}
