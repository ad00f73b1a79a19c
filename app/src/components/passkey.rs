//! Passkeys in the browser: signing in with one ([`PasskeySignIn`], on the sign-in page), the
//! person's passkeys on the Security info page ([`PasskeyMethods`]: add, rename, remove, and a
//! step-up with one), and deciding a push request with one ([`PasskeyDecide`], on the Approvals
//! page). `/passkey.js` talks to `navigator.credentials`; the rules are the server's.

use crate::{
    components::status::{DataTable, FormResult},
    functions::passkeys::{my_passkeys, PasskeyRow, RenamePasskey},
    models::{utc, AppError, PushDecision},
    routes::portal::methods::Rename,
};
use crate::components::resource::{resource, Resource};
use leptos::prelude::*;
use leptos_meta::Script;
use uuid::Uuid;

/// A note under a passkey action: done, or why not.
type Note = RwSignal<Option<Result<String, String>>>;

fn note_view(note: Note) -> impl IntoView {
    move || {
        note.get().map(|m| match m {
            Ok(text) => view! { <p class="form-ok" role="status">{text}</p> }.into_any(),
            Err(text) => view! { <p class="form-error" role="alert">{text}</p> }.into_any(),
        })
    }
}

/// Signing in with a passkey ("Use a passkey"): no email, the passkey names its person. On success the browser goes
/// to `?next=` (a path on this site) or the person's home page.
#[component]
pub fn PasskeySignIn() -> impl IntoView {
    let note: Note = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let start = move |_| {
        busy.set(true);
        note.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match browser::sign_in().await {
                Ok(next) => browser::go(&next),
                Err(e) => {
                    note.set(Some(Err(e)));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <Script src="/passkey.js" defer="defer" />
        <div class="passkey-sign-in">
            // Not "Sign in with a passkey": a button whose name holds "Sign in" would be a second
            // match for the form's own button wherever it is looked up by that name.
            <p class="muted">"Or sign in without a password:"</p>
            <button type="button" class="button button-block" on:click=start disabled=move || busy.get()>
                "Use a passkey"
            </button>
            {note_view(note)}
        </div>
    }
}

/// The passkey section's data and its rename action, made by the page once, outside anything the
/// server may draw twice (see `routes::portal::methods`): a resource made in the section itself
/// would be made again, under another id, each time the server draws it.
#[derive(Clone, Copy)]
pub struct Passkeys {
    /// Bumped after each change made through `/passkey.js` (added, removed, stepped up).
    reloads: RwSignal<u32>,
    /// Add and Remove done on this page (a step-up is no change).
    changes: RwSignal<u32>,
    rename: ServerAction<RenamePasskey>,
    keys: Resource<Result<Vec<PasskeyRow>, AppError>>,
}

impl Passkeys {
    pub fn new() -> Self {
        let reloads = RwSignal::new(0u32);
        let rename = ServerAction::<RenamePasskey>::new();
        let keys = resource(move || (reloads.get(), rename.version().get()), |_| my_passkeys());
        Self { reloads, changes: RwSignal::new(0), rename, keys }
    }

    /// Whether a passkey was added, renamed or removed on this page.
    pub fn changed_here(&self) -> bool {
        self.changes.get() > 0 || self.rename.value().with(|v| matches!(v, Some(Ok(_))))
    }
}

impl Default for Passkeys {
    fn default() -> Self {
        Self::new()
    }
}

/// The person's passkeys, with Add, Rename and Remove (each needs a fresh step-up, which a
/// passkey gives too).
#[component]
pub fn PasskeyMethods(state: Passkeys) -> impl IntoView {
    let Passkeys { reloads, changes, rename, keys } = state;
    let note: Note = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    #[cfg(not(feature = "hydrate"))]
    let _ = (reloads, changes, name);
    let run = move |what: Action| {
        busy.set(true);
        note.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = browser::manage(what, name.get_untracked()).await;
            busy.set(false);
            if result.is_ok() {
                reloads.update(|n| *n += 1);
                if matches!(what, Action::StepUp) {
                    // The rest of the page shows the step-up once it reloads its state.
                    browser::reload();
                } else {
                    changes.update(|n| *n += 1);
                }
            }
            note.set(Some(result));
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = what;
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run(Action::Add);
    };
    view! {
        <Script src="/passkey.js" defer="defer" />
        <section class="panel" aria-labelledby="passkeys-heading">
            <h2 id="passkeys-heading">"Passkeys"</h2>
            <p>
                "A passkey signs you in to this portal without a password, and approves a login from any "
                "browser: open the address the login prompt shows, type the number, and confirm with the passkey."
            </p>
            <FormResult value=rename.value() success=|n: String| format!("Renamed {n}.") />
            <Transition fallback=|| ()>
                {move || {
                    keys.get()
                        .map(|r| match r {
                            Ok(rows) => key_list(rows, run, rename).into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
            <form class="form-grid" on:submit=add>
                <div class="field">
                    <label for="passkey-name">"Passkey name"</label>
                    <input
                        id="passkey-name"
                        name="name"
                        maxlength="64"
                        placeholder="Laptop"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <p class="hint">"Optional. Helps you tell your passkeys apart."</p>
                </div>
                <div class="form-actions">
                    <button type="submit" class="button button-primary" disabled=move || busy.get()>
                        "Add a passkey"
                    </button>
                </div>
            </form>
            {note_view(note)}
        </section>
    }
}

/// What the passkey section does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Add,
    StepUp,
    Remove(Uuid),
}

fn key_list(
    rows: Vec<PasskeyRow>,
    run: impl Fn(Action) + Copy + Send + Sync + 'static,
    rename: ServerAction<RenamePasskey>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No passkey yet."</p> }.into_any();
    }
    view! {
        <div class="factor-table">
            <DataTable headers=&["Name", "Added", "Last used", "Operation"]>
                {rows
                    .into_iter()
                    .map(|k| {
                        let label = format!("Remove {}", k.name);
                        let id = k.id;
                        view! {
                            <tr>
                                <td data-label="Name">{k.name.clone()}</td>
                                <td data-label="Added" class="small">{utc(k.added)}</td>
                                <td data-label="Last used" class="small">
                                    {k.last_used.map(utc).unwrap_or_else(|| "Never".to_owned())}
                                </td>
                                <td data-label="Operation">
                                    <div class="row-actions">
                                        <Rename rename id=id.to_string() name=k.name.clone() />
                                        <button type="button" class="button button-small" aria-label=label on:click=move |_| run(Action::Remove(id))>
                                            "Remove"
                                        </button>
                                    </div>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </DataTable>
        </div>
        <div class="form-actions">
            <button type="button" class="button" on:click=move |_| run(Action::StepUp)>
                "Verify with a passkey"
            </button>
            <p class="hint">"Instead of a code: changing your sign-in methods needs one or the other."</p>
        </div>
    }
    .into_any()
}

/// "Approve with a passkey" on a pending request: the typed `number` and the decision are bound
/// into the passkey's challenge. Shown only to a person who has a passkey.
#[component]
pub fn PasskeyDecide(request_id: Uuid, number: RwSignal<String>) -> impl IntoView {
    // Asked in the browser only, so the server's page and the hydrated one start the same.
    let has_passkey = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            has_passkey.set(my_passkeys().await.is_ok_and(|k| !k.is_empty()));
        });
    });
    let note: Note = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let decide = move |decision: PushDecision| {
        busy.set(true);
        note.set(None);
        let typed = number.get_untracked();
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = browser::decide(request_id, typed, decision).await;
            note.set(Some(result));
            busy.set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (typed, decision, request_id);
    };
    view! {
        <Script src="/passkey.js" defer="defer" />
        <Show when=move || has_passkey.get()>
            <div class="row-actions passkey-decide">
                <button type="button" class="button" disabled=move || busy.get() on:click=move |_| decide(PushDecision::Approve)>
                    "Approve with a passkey"
                </button>
                <button type="button" class="button button-secondary" disabled=move || busy.get() on:click=move |_| decide(PushDecision::Deny)>
                    "Deny with a passkey"
                </button>
            </div>
        </Show>
        {note_view(note)}
    }
}

#[cfg(feature = "hydrate")]
pub(crate) mod browser {
    use super::Action;
    use crate::{
        functions::passkeys::{
            begin_passkey, begin_passkey_decision, begin_passkey_sign_in, begin_passkey_step_up, finish_passkey,
            finish_passkey_decision, finish_passkey_sign_in, finish_passkey_step_up, remove_passkey,
        },
        models::{PushDecision, PushStatus},
    };
    use leptos::{
        wasm_bindgen::{JsCast, JsValue},
        web_sys::js_sys,
    };
    use uuid::Uuid;

    /// Calls `hostguardPasskey[method](options)`: the credential as JSON text, or why not.
    pub(crate) async fn credential(method: &str, options: &str) -> Result<String, String> {
        let failed = |e: JsValue| {
            let name = js_sys::Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string());
            if name.as_deref() == Some("NotAllowedError") {
                return "The passkey was not used (cancelled, or timed out).".to_owned();
            }
            let why = e.as_string().or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok()?.as_string());
            why.unwrap_or_else(|| "The browser refused.".into())
        };
        let window = leptos::web_sys::window().ok_or("No browser window.")?;
        let glue = js_sys::Reflect::get(&window, &"hostguardPasskey".into()).map_err(failed)?;
        let f = js_sys::Reflect::get(&glue, &method.into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or("The page is still loading; try again.")?;
        let promise = f.call1(&glue, &options.into()).map_err(failed)?;
        let value = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise)).await.map_err(failed)?;
        value.as_string().ok_or_else(|| "The browser gave no passkey.".into())
    }

    fn next() -> String {
        leptos::web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|q| {
                q.trim_start_matches('?')
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("next=").map(str::to_owned))
                    .and_then(|n| js_sys::decode_uri_component(&n).ok().and_then(|s| s.as_string()))
            })
            .unwrap_or_default()
    }

    pub fn go(path: &str) {
        if let Some(w) = leptos::web_sys::window() {
            let _ = w.location().assign(path);
        }
    }

    pub fn reload() {
        if let Some(w) = leptos::web_sys::window() {
            let _ = w.location().reload();
        }
    }

    pub async fn sign_in() -> Result<String, String> {
        let c = begin_passkey_sign_in().await.map_err(|e| e.to_string())?;
        let answer = credential("get", &c.options).await?;
        let done =
            finish_passkey_sign_in(c.ceremony_id.to_string(), answer, next()).await.map_err(|e| e.to_string())?;
        Ok(done.next)
    }

    pub async fn manage(what: Action, name: String) -> Result<String, String> {
        match what {
            Action::Add => {
                let c = begin_passkey(name).await.map_err(|e| e.to_string())?;
                let answer = credential("create", &c.options).await?;
                let row = finish_passkey(c.ceremony_id.to_string(), answer).await.map_err(|e| e.to_string())?;
                Ok(format!("{} added.", row.name))
            }
            Action::StepUp => {
                let c = begin_passkey_step_up().await.map_err(|e| e.to_string())?;
                let answer = credential("get", &c.options).await?;
                finish_passkey_step_up(c.ceremony_id.to_string(), answer).await.map_err(|e| e.to_string())?;
                Ok("Verified: you can change your sign-in methods for a few minutes.".into())
            }
            Action::Remove(id) => {
                remove_passkey(id.to_string()).await.map_err(|e| e.to_string())?;
                Ok("Passkey removed.".into())
            }
        }
    }

    pub async fn decide(request: Uuid, number: String, decision: PushDecision) -> Result<String, String> {
        let c = begin_passkey_decision(request.to_string(), number, decision).await.map_err(|e| e.to_string())?;
        let answer = credential("get", &c.options).await?;
        let done = finish_passkey_decision(c.ceremony_id.to_string(), answer).await.map_err(|e| e.to_string())?;
        Ok(match done.status {
            PushStatus::Approved => "Approved: the login goes on.",
            PushStatus::Fraud => "Denied and reported to your administrators.",
            _ => "Denied: the login is refused.",
        }
        .to_owned())
    }
}
