//! Small shared views: page headers, error panels, status badges.

use crate::models::AppError;
use crate::components::resource::Resource;
use leptos::prelude::*;

#[component]
pub fn PageHeader(
    title: &'static str,
    #[prop(optional)] crumbs: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <header class="page-header">
            {(!crumbs.is_empty())
                .then(|| {
                    view! {
                        <nav class="crumbs" aria-label="Breadcrumb">
                            {crumbs.iter().map(|c| view! { <span>{*c}</span> }).collect_view()}
                        </nav>
                    }
                })} <h1>{title}</h1> <div class="page-intro">{children()}</div>
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
            {signin
                .then(|| {
                    view! {
                        <p>
                            <a href="/signin">"Sign in"</a>
                        </p>
                    }
                })}
        </div>
    }
}

#[component]
pub fn Badge(kind: &'static str, text: String) -> impl IntoView {
    view! { <span class=format!("badge badge-{kind}")>{text}</span> }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="loading" aria-live="polite">
            "Loading…"
        </p>
    }
}

/// The outcome of a form's last submission: nothing, a success note, or its errors, one per
/// field when the server named several.
#[component]
pub fn FormResult<T, S>(value: S, #[prop(into)] success: Callback<T, String>) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        None => ().into_any(),
        Some(Ok(v)) => view! {
            <p class="form-ok" role="status">
                {success.run(v)}
            </p>
        }
        .into_any(),
        Some(Err(AppError::Invalid(errors))) => view! {
            <ul class="form-error" role="alert">
                {errors
                    .into_iter()
                    .map(|e| {
                        view! {
                            <li>
                                <b>{crate::models::field_label(&e.field)}</b>
                                ": "
                                {e.message}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any(),
        Some(Err(e)) => view! {
            <p class="form-error" role="alert">
                {e.to_string()}
            </p>
        }
        .into_any(),
    }
}

/// "1 server", "2 servers": a count with its noun in the right number.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn status_badge(status: impl crate::models::Status) -> impl IntoView {
    view! { <Badge kind=status.badge() text=status.label().to_owned() /> }
}

/// Shows a resource: "Loading…" until it arrives, its error in an `ErrorPanel`, or `ok` of its
/// value. Keeps the previous value on screen while it reloads.
#[component]
pub fn Loaded<T, V, F>(resource: Resource<Result<T, AppError>>, ok: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    view! {
        <Transition fallback=Loading>
            {move || {
                let ok = ok.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => ok(value).into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// A data table: column headings and the rows. A heading that starts with `#` is a number
/// column (right-aligned); the `#` is not shown.
#[component]
pub fn DataTable(headers: &'static [&'static str], children: Children) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="data-table">
                <ColumnHeadings headers />
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}

/// A table's `thead`, as `DataTable` writes it.
#[component]
pub fn ColumnHeadings(headers: &'static [&'static str]) -> impl IntoView {
    view! {
        <thead>
            <tr>
                {headers
                    .iter()
                    .map(|h| match h.strip_prefix('#') {
                        Some(h) => {
                            view! {
                                <th scope="col" class="num">
                                    {h}
                                </th>
                            }
                                .into_any()
                        }
                        None => view! { <th scope="col">{*h}</th> }.into_any(),
                    })
                    .collect_view()}
            </tr>
        </thead>
    }
}
