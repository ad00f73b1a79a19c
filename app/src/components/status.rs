//! Small shared views: page headers, error panels, status badges.

use crate::models::AppError;
use leptos::prelude::*;

#[component]
pub fn PageHeader(title: &'static str, #[prop(optional)] crumbs: &'static [&'static str], children: Children) -> impl IntoView {
    view! {
        <header class="page-header">
            {(!crumbs.is_empty()).then(|| view! {
                <nav class="crumbs" aria-label="Breadcrumb">
                    {crumbs.iter().map(|c| view! { <span>{*c}</span> }).collect_view()}
                </nav>
            })}
            <h1>{title}</h1>
            <div class="page-intro">{children()}</div>
        </header>
    }
}

/// An error where the data would be. A lapsed session gets a link to sign in again.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let signin = matches!(error, AppError::Unauthenticated);
    view! {
        <div class="notice notice-error" role="alert">
            <p>{error.to_string()}</p>
            {signin.then(|| view! { <p><a href="/signin">"Sign in"</a></p> })}
        </div>
    }
}

#[component]
pub fn Badge(kind: &'static str, text: String) -> impl IntoView {
    view! { <span class=format!("badge badge-{kind}")>{text}</span> }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" aria-live="polite">"Loading…"</p> }
}
