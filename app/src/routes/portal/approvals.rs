//! The portal's Approvals page: the person's pending push requests, live (server-sent events
//! from `/portal/approvals/events`), approved by typing the number the login prompt shows, or
//! denied, or reported with "This wasn't me". Every decision is signed in the browser by this
//! browser's approval device: a WebCrypto P-256 key made here, non-extractable, kept in
//! IndexedDB, whose public half the console checks. A stolen session alone cannot approve.

#[cfg(feature = "hydrate")]
use crate::models::PushStatus;
use crate::{
    components::{
        form::{RowAction, SubmitButton, TextField},
        status::{DataTable, Loaded, PageHeader},
    },
    functions::{
        approvals::{my_approvals, RemoveDevice},
        portal::StepUp,
    },
    models::{utc, Approvals, PendingPush, PushDecision},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use uuid::Uuid;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let remove = ServerAction::<RemoveDevice>::new();
    let step_up = ServerAction::<StepUp>::new();
    let registered = RwSignal::new(0u32);
    let data =
        resource(move || (remove.version().get(), step_up.version().get(), registered.get()), |_| my_approvals());
    // The live list, once the feed has sent one; until then the page's own.
    let live: RwSignal<Option<Vec<PendingPush>>> = RwSignal::new(None);
    // When the list on screen arrived (ms since the epoch), for the seconds left.
    let received = RwSignal::new(0f64);
    let now = RwSignal::new(0f64);
    // This browser's device among the person's, once its key is found in IndexedDB.
    let this_device: RwSignal<Option<Uuid>> = RwSignal::new(None);
    // Kept here, so the note outlives the page's reload after a registration.
    let register_message: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    browser::start(data, live, received, now, this_device);
    view! {
        <Title text="Approvals" />
        <PageHeader title="Approvals">
            <p>
                "When you choose Push at a server's login prompt, the login waits here for you. Check the server, "
                "the account and where it comes from, type the number the prompt shows, and approve. If you did not "
                "start it, press This wasn't me: your administrators are told."
            </p>
        </PageHeader>
        <Loaded
            resource=data
            ok=move |a: Approvals| {
                let muted = a
                    .muted_until
                    .map(|until| {
                        view! {
                            <p class="notice">
                                {format!(
                                    "Notifications outside this page are paused until {}: open this page to see new requests.",
                                    utc(until),
                                )}
                            </p>
                        }
                    });
                let first = a.pending.clone();
                let devices = a.devices.clone();
                view! {
                    <section class="panel" aria-labelledby="pending-heading">
                        <h2 id="pending-heading">"Waiting for you"</h2>
                        {muted}
                        {move || {
                            let rows = live.get().unwrap_or_else(|| first.clone());
                            if rows.is_empty() {
                                view! { <p class="empty">"No login is waiting for you."</p> }.into_any()
                            } else {
                                rows.into_iter()
                                    .map(|r| view! { <PendingCard request=r this_device received now /> })
                                    .collect_view()
                                    .into_any()
                            }
                        }}
                    </section>
                    <section class="panel" aria-labelledby="code-heading">
                        <h2 id="code-heading">"Get a code"</h2>
                        <crate::components::get_code::GetCode this_device />
                    </section>
                    <section class="panel" aria-labelledby="device-heading">
                        <h2 id="device-heading">"This browser"</h2>
                        <ThisBrowser approvals=a this_device registered step_up message=register_message />
                    </section>
                    <section class="panel" aria-labelledby="notify-heading">
                        <h2 id="notify-heading">"Notifications"</h2>
                        <crate::components::push_notifications::PushNotifications />
                    </section>
                    <section class="panel" aria-labelledby="devices-heading">
                        <h2 id="devices-heading">"Your approval devices"</h2>
                        {if devices.is_empty() {
                            view! { <p class="empty">"None yet: register this browser above."</p> }.into_any()
                        } else {
                            view! {
                                <DataTable headers=&["Name", "Added", "Last used", "Operation"]>
                                    {devices
                                        .into_iter()
                                        .map(|d| {
                                            let label = format!("Remove {}", d.name);
                                            view! {
                                                <tr>
                                                    <td>{d.name.clone()}</td>
                                                    <td class="small">{utc(d.added)}</td>
                                                    <td class="small">
                                                        {d.last_used.map(utc).unwrap_or_else(|| "Never".to_owned())}
                                                    </td>
                                                    <td>
                                                        <RowAction action=remove value=d.id.to_string() text="Remove" label />
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </DataTable>
                            }
                                .into_any()
                        }}
                    </section>
                }
            }
        />
        <div>
            {move || {
                remove
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
            }}
        </div>
    }
}

/// Registering this browser: a current code first (a step-up), then a name.
#[component]
fn ThisBrowser(
    approvals: Approvals,
    this_device: RwSignal<Option<Uuid>>,
    registered: RwSignal<u32>,
    step_up: ServerAction<StepUp>,
    message: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let devices = approvals.devices.clone();
    #[cfg(not(feature = "hydrate"))]
    let _ = registered;
    let register = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        message.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = browser::register(name.get_untracked()).await;
            if let Ok((id, _)) = &result {
                this_device.set(Some(*id));
                registered.update(|n| *n += 1);
            }
            message.set(Some(result.map(|(_, name)| format!("This browser is registered as {name}."))));
            busy.set(false);
        });
    };
    let step_up_form = (approvals.has_factor && approvals.verified_until.is_none()).then(|| {
        view! {
            <p>
                "To register this browser, first enter a current code from your authenticator app or a recovery code."
            </p>
            <ActionForm action=step_up attr:class="form-grid">
                <TextField id="approvals-step-up-code" label="Current code" name="code" required=true maxlength="32" autocomplete="one-time-code">
                    "6 digits from your app, or a recovery code (it is then used up)."
                </TextField>
                <SubmitButton label="Verify" pending=step_up.pending() />
            </ActionForm>
            {move || {
                step_up
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
            }}
        }
    });
    view! {
        {move || {
            let mine = this_device.get().and_then(|id| devices.iter().find(|d| d.id == id).cloned());
            match mine {
                Some(d) => view! {
                    <p class="verified">{format!("This browser approves your logins as {}.", d.name)}</p>
                }
                    .into_any(),
                None => view! {
                    <p>
                        "Register this browser to approve logins here. It makes a key that never leaves it; "
                        "the console checks every approval with it."
                    </p>
                }
                    .into_any(),
            }
        }}
        {step_up_form}
        <form class="form-grid" on:submit=register>
            <div class="field">
                <label for="device-name">"Device name"</label>
                <input
                    id="device-name"
                    name="name"
                    maxlength="64"
                    placeholder="My phone"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <p class="hint">"Optional. Helps you tell your devices apart."</p>
            </div>
            <div class="form-actions">
                <button type="submit" class="button button-primary" disabled=move || busy.get()>
                    "Register this browser"
                </button>
            </div>
        </form>
        {move || {
            message
                .get()
                .map(|m| match m {
                    Ok(text) => view! { <p class="form-ok" role="status">{text}</p> }.into_any(),
                    Err(text) => view! { <p class="form-error" role="alert">{text}</p> }.into_any(),
                })
        }}
    }
}

/// One pending request: what it is, the time left, the number, and the three decisions.
#[component]
fn PendingCard(
    request: PendingPush,
    this_device: RwSignal<Option<Uuid>>,
    received: RwSignal<f64>,
    now: RwSignal<f64>,
) -> impl IntoView {
    let number = RwSignal::new(String::new());
    let message: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let id = request.id;
    let seconds = request.seconds_left;
    let left = move || {
        let gone = ((now.get() - received.get()) / 1000.0).max(0.0) as i64;
        (seconds - gone).max(0)
    };
    let decide = move |decision: PushDecision| {
        let Some(device) = this_device.get_untracked() else {
            message.set(Some(Err("Register this browser first: every decision is signed by it.".into())));
            return;
        };
        busy.set(true);
        message.set(None);
        let typed = number.get_untracked();
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = browser::decide(id, device, typed, decision).await;
            message.set(Some(result.map(|s| {
                match s {
                    PushStatus::Approved => "Approved: the login goes on.",
                    PushStatus::Fraud => "Denied and reported to your administrators.",
                    _ => "Denied: the login is refused.",
                }
                .to_owned()
            })));
            busy.set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (device, typed, decision);
    };
    let input_id = format!("number-{id}");
    let label_for = input_id.clone();
    let heading_id = format!("request-{id}");
    let labelled_by = heading_id.clone();
    let label = format!("Login as {} on {} from {}", request.account, request.server, request.source_ip);
    view! {
        <section
            class="push-request"
            aria-labelledby=labelled_by
            style="border:1px solid var(--line);border-radius:var(--radius);padding:1rem;margin-bottom:1rem"
        >
            <h3 id=heading_id style="margin:0 0 .5rem;overflow-wrap:anywhere">{label}</h3>
            <p class="small" style="margin:0 0 .75rem">
                {format!("Requested {}. ", utc(request.requested))}
                <span aria-live="off">{move || format!("{} seconds left.", left())}</span>
            </p>
            <div class="field">
                <label for=label_for>"Number shown at the login prompt"</label>
                <input
                    id=input_id
                    inputmode="numeric"
                    pattern="[0-9]{3}"
                    maxlength="3"
                    autocomplete="off"
                    style="max-width:8rem;font-size:1.4rem;letter-spacing:.2rem"
                    prop:value=move || number.get()
                    on:input=move |ev| number.set(event_target_value(&ev))
                />
            </div>
            <crate::components::passkey::PasskeyDecide request_id=id number />
            <div class="row-actions">
                <button type="button" class="button button-primary" disabled=move || busy.get() on:click=move |_| decide(PushDecision::Approve)>
                    "Approve"
                </button>
                <button type="button" class="button button-secondary" disabled=move || busy.get() on:click=move |_| decide(PushDecision::Deny)>
                    "Deny"
                </button>
                <button type="button" class="button button-danger" disabled=move || busy.get() on:click=move |_| decide(PushDecision::Fraud)>
                    "This wasn't me"
                </button>
            </div>
            {move || {
                message
                    .get()
                    .map(|m| match m {
                        Ok(text) => view! { <p class="form-ok" role="status">{text}</p> }.into_any(),
                        Err(text) => view! { <p class="form-error" role="alert">{text}</p> }.into_any(),
                    })
            }}
        </section>
    }
}

/// The browser's side: the device key (WebCrypto, kept in IndexedDB), signing, and the feed.
#[cfg(feature = "hydrate")]
pub(crate) mod browser {
    use crate::{
        functions::approvals::{decide_push, register_device},
        models::{AppError, Approvals, PendingPush, PushDecision, PushStatus},
    };
    use crate::components::resource::Resource;
    use leptos::prelude::*;
    use uuid::Uuid;
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        js_sys, CryptoKey, CryptoKeyPair, EcKeyGenParams, EcdsaParams, IdbDatabase, IdbRequest, IdbTransactionMode,
    };

    const DB: &str = "hostguard-approvals";
    const STORE: &str = "devices";

    fn text(e: JsValue) -> String {
        e.as_string()
            .or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()))
            .unwrap_or_else(|| "the browser refused".into())
    }

    fn window() -> Result<web_sys::Window, String> {
        web_sys::window().ok_or_else(|| "no window".to_owned())
    }

    /// Waits for an IndexedDB request to finish.
    async fn done(req: &IdbRequest) -> Result<JsValue, String> {
        let promise = js_sys::Promise::new(&mut |resolve: js_sys::Function, reject: js_sys::Function| {
            let ok_req = req.clone();
            let ok = Closure::once_into_js(move |_: web_sys::Event| {
                let _ = resolve.call1(&JsValue::NULL, &ok_req.result().unwrap_or(JsValue::UNDEFINED));
            });
            let err = Closure::once_into_js(move |_: web_sys::Event| {
                let _ = reject.call1(&JsValue::NULL, &"IndexedDB request failed".into());
            });
            req.set_onsuccess(Some(ok.unchecked_ref()));
            req.set_onerror(Some(err.unchecked_ref()));
        });
        JsFuture::from(promise).await.map_err(text)
    }

    async fn open() -> Result<IdbDatabase, String> {
        let factory = window()?.indexed_db().map_err(text)?.ok_or("this browser has no IndexedDB")?;
        let req = factory.open_with_u32(DB, 1).map_err(text)?;
        let upgrade_req = req.clone();
        let upgrade = Closure::once_into_js(move |_: web_sys::Event| {
            if let Some(db) = upgrade_req.result().ok().and_then(|r| r.dyn_into::<IdbDatabase>().ok()) {
                let _ = db.create_object_store(STORE);
            }
        });
        req.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
        done(&req).await?.dyn_into::<IdbDatabase>().map_err(|_| "IndexedDB did not open".to_owned())
    }

    async fn load_key(device: Uuid) -> Result<Option<CryptoKey>, String> {
        let db = open().await?;
        let tx = db.transaction_with_str(STORE).map_err(text)?;
        let found = done(&tx.object_store(STORE).map_err(text)?.get(&device.to_string().into()).map_err(text)?).await?;
        Ok(found.dyn_into::<CryptoKey>().ok())
    }

    async fn store_key(device: Uuid, key: &CryptoKey) -> Result<(), String> {
        let db = open().await?;
        let tx = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(text)?;
        let store = tx.object_store(STORE).map_err(text)?;
        done(&store.put_with_key(key, &device.to_string().into()).map_err(text)?).await?;
        Ok(())
    }

    fn subtle() -> Result<web_sys::SubtleCrypto, String> {
        Ok(window()?.crypto().map_err(text)?.subtle())
    }

    fn base64(bytes: &[u8]) -> Result<String, String> {
        let binary: String = bytes.iter().map(|b| char::from(*b)).collect();
        window()?.btoa(&binary).map_err(text)
    }

    fn app_error(e: AppError) -> String {
        e.to_string()
    }

    /// Makes this browser's key pair (the private half cannot be exported, even by this page),
    /// registers the public half, and keeps the private half in IndexedDB.
    pub async fn register(name: String) -> Result<(Uuid, String), String> {
        let subtle = subtle()?;
        let params = EcKeyGenParams::new("ECDSA", "P-256");
        let usages = js_sys::Array::of2(&"sign".into(), &"verify".into());
        let pair: CryptoKeyPair =
            JsFuture::from(subtle.generate_key_with_object(&params, false, &usages).map_err(text)?)
                .await
                .map_err(text)?
                .unchecked_into();
        let spki =
            JsFuture::from(subtle.export_key("spki", &pair.get_public_key()).map_err(text)?).await.map_err(text)?;
        let public_key = base64(&js_sys::Uint8Array::new(&spki).to_vec())?;
        let row = register_device(name, public_key).await.map_err(app_error)?;
        store_key(row.id, &pair.get_private_key()).await?;
        Ok((row.id, row.name))
    }

    /// Signs `message` with device `device`'s key (raw r‖s, base64): "Get a code" signs its nonce.
    pub(crate) async fn sign(device: Uuid, message: &str) -> Result<String, String> {
        let key = load_key(device).await?.ok_or("This browser's key is gone: register it again.")?;
        let params = EcdsaParams::new_with_str("ECDSA", "SHA-256");
        let signature =
            JsFuture::from(subtle()?.sign_with_object_and_u8_array(&params, &key, message.as_bytes()).map_err(text)?)
                .await
                .map_err(text)?;
        base64(&js_sys::Uint8Array::new(&signature).to_vec())
    }

    /// Signs the decision with this browser's key and sends it.
    pub async fn decide(
        request: Uuid,
        device: Uuid,
        typed: String,
        decision: PushDecision,
    ) -> Result<PushStatus, String> {
        let typed = typed.trim().to_owned();
        let number = if decision == PushDecision::Approve {
            match typed.parse::<u16>() {
                Ok(n) if (100..=999).contains(&n) => n,
                _ => return Err("Type the 3-digit number the login prompt shows.".into()),
            }
        } else {
            0
        };
        let key = load_key(device).await?.ok_or("This browser's key is gone: register it again.")?;
        let message = proto::push::signed_message(request, number, decision);
        let params = EcdsaParams::new_with_str("ECDSA", "SHA-256");
        let signature =
            JsFuture::from(subtle()?.sign_with_object_and_u8_array(&params, &key, message.as_bytes()).map_err(text)?)
                .await
                .map_err(text)?;
        let signature = base64(&js_sys::Uint8Array::new(&signature).to_vec())?;
        let sent = if decision == PushDecision::Approve { number.to_string() } else { String::new() };
        decide_push(request.to_string(), device.to_string(), sent, decision, signature)
            .await
            .map(|r| r.status)
            .map_err(app_error)
    }

    /// In the browser: finds this browser's device among the person's, opens the live feed,
    /// and ticks the seconds left.
    pub fn start(
        data: Resource<Result<Approvals, AppError>>,
        live: RwSignal<Option<Vec<PendingPush>>>,
        received: RwSignal<f64>,
        now: RwSignal<f64>,
        this_device: RwSignal<Option<Uuid>>,
    ) {
        Effect::new(move |_| {
            let Some(Ok(a)) = data.get() else { return };
            if live.get_untracked().is_none() {
                received.set(js_sys::Date::now());
            }
            let ids: Vec<Uuid> = a.devices.iter().map(|d| d.id).collect();
            leptos::task::spawn_local(async move {
                for id in ids {
                    if let Ok(Some(_)) = load_key(id).await {
                        this_device.set(Some(id));
                        return;
                    }
                }
                this_device.set(None);
            });
        });
        crate::components::poll::poll_every(std::time::Duration::from_secs(1), move || now.set(js_sys::Date::now()));
        Effect::new(move |_| {
            let Ok(feed) = web_sys::EventSource::new("/portal/approvals/events") else { return };
            let on_pending = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(data) = ev.data().as_string() else { return };
                if let Ok(rows) = serde_json::from_str::<Vec<PendingPush>>(&data) {
                    received.set(js_sys::Date::now());
                    now.set(js_sys::Date::now());
                    live.set(Some(rows));
                }
            });
            let _ = feed.add_event_listener_with_callback("pending", on_pending.as_ref().unchecked_ref());
            let kept = StoredValue::new_local((feed, on_pending));
            on_cleanup(move || kept.with_value(|(feed, _)| feed.close()));
        });
    }
}
