//! The HostGuard console UI (Leptos): pages in `routes/`, shared pieces in `components/`, server
//! calls in `functions/`, the types they exchange in `models/`.

// Views are type-erased in every build (`always-erase-components` in Cargo.toml). A build
// without that keeps every view's full type, and the deepest pages nest past the default query
// depth of 128 ("queries overflow the depth limit").
#![recursion_limit = "512"]

pub mod components;
pub mod functions;
pub mod models;
pub mod routes;

use components::layout::{Auth, ConsoleLayout, RegionState};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};
use leptos_router::Lazy;
use routes::{lazy::*, not_found::NotFound, signin::SignInPage};


pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // The CSS by its hashed name in release builds, where the browser keeps it a year.
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(Auth::new());
    provide_context(RegionState::default());
    // The page is marked hydrated (`data-hydrated` on <body>) by the wasm entry point, once the
    // page's lazy chunk has hydrated too (frontend/src/lib.rs).

    view! {
        <Title formatter=|text: String| {
            if text.is_empty() { "HostGuard".to_owned() } else { format!("{text} · HostGuard") }
        } />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/signin") view=SignInPage ssr=SsrMode::Async />
                <Route path=path!("/smn/confirm") view={Lazy::<ConfirmRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/smn/unsubscribe") view={Lazy::<UnsubscribeRoute>::new()} ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=ConsoleLayout ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("hss/two-factor") view={Lazy::<TwoFactorRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("hss/servers/:id") view={Lazy::<ServerDetailRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("hss/login-audit") view={Lazy::<LoginAuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("smn/topics") view={Lazy::<TopicsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("smn/topics/:id") view={Lazy::<TopicDetailRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/outbox") view={Lazy::<OutboxRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("iam/access-keys") view={Lazy::<AccessKeysRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("iam/server-accounts") view={Lazy::<ServerAccountsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/tenants") view={Lazy::<TenantsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("portal") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("portal/methods") view={Lazy::<SignInMethodsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("portal/history") view={Lazy::<SignInHistoryRoute>::new()} ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
