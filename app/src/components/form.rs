//! The pieces forms repeat: a labelled text field, the submit row, and a one-button form for a
//! table row. Each writes the same markup the pages wrote by hand, so labels, ids and ARIA stay
//! what the tests and the accessibility checks read.

use leptos::{html, prelude::*, web_sys};
use serde::de::DeserializeOwned;
use server_fn::{client::Client, codec::PostUrl, request::ClientReq, Http, ServerFn};

/// A labelled input in a form grid, with its hint (`children`) below it.
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    #[prop(optional)] name: Option<&'static str>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] maxlength: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    /// A value shown read-only (a secret to copy), with `class`.
    #[prop(optional, into)]
    value: Option<String>,
    #[prop(optional)] class: Option<&'static str>,
    #[prop(optional)] node_ref: NodeRef<html::Input>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let readonly = value.is_some();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                node_ref=node_ref
                id=id
                class=class
                name=name
                type=kind
                required=required
                readonly=readonly
                value=value
                autocomplete=autocomplete
                maxlength=maxlength
                placeholder=placeholder
            />
            {children.map(|hint| view! { <p class="hint">{hint()}</p> })}
        </div>
    }
}

/// A form's submit row: its button, off while the form's action is pending.
#[component]
pub fn SubmitButton(
    label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    /// A secondary button, for a form that is not the page's main one.
    #[prop(optional)]
    secondary: bool,
) -> impl IntoView {
    let class = if secondary { "button button-secondary" } else { "button button-primary" };
    view! {
        <div class="form-actions">
            <button type="submit" class=class disabled=move || pending.get()>
                {label}
            </button>
        </div>
    }
}

/// A table row's one-button form: posts `value` as `name` (`id` unless given) to `action`.
/// `label` names the row for screen readers ("Remove My phone").
#[component]
pub fn RowAction<S, P>(
    action: ServerAction<S>,
    #[prop(into)] value: String,
    text: &'static str,
    #[prop(optional, into)] label: Option<String>,
    #[prop(default = "id")] name: &'static str,
    #[prop(default = "link-button danger")] class: &'static str,
) -> impl IntoView
where
    S: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData: From<web_sys::FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Client: Client<S::Error>,
    P: 'static,
{
    view! {
        <ActionForm action>
            <input type="hidden" name=name value=value />
            <button type="submit" class=class aria-label=label>
                {text}
            </button>
        </ActionForm>
    }
}
