//! The portal's Sign-in methods, as on Microsoft's "Security info" page: every method the end
//! user has, by name and kind (rename, remove); authenticator apps (add with a QR code, or on
//! the phone itself with an `otpauth://` link, and a confirming code); a phone (add or replace
//! with a code sent to it by SMS); recovery codes (a new set, shown once); and the method the
//! login prompt tries first. A change needs a current code from a method the user has (asked
//! for once, then good for a few minutes in this session); a first method is added only from
//! an invitation's link, so to a person with none the page says that and offers nothing else.
//! After a change, the page offers to sign out the user's other sessions.

use crate::{
    components::{
        form::{RowAction, SubmitButton, TextField},
        layout::ForRoles,
        passkey::{PasskeyMethods, Passkeys},
        status::{DataTable, FormResult, Loaded, PageHeader},
    },
    functions::{
        phones::{
            my_phones, BeginPhone, ConfirmPhone, RemovePhone, RenameFactor, ResendPhoneCode, SendStepUpCode,
            SetDefaultMethod, SignOutOtherSessions,
        },
        portal::{
            my_sign_in_methods, BeginAuthenticator, ConfirmAuthenticator, GenerateRecoveryCodes, RemoveAuthenticator,
            StepUp,
        },
    },
    models::{utc, AppError, DefaultMethod, NewAuthenticator, PhonesView, Role, SignInMethods},
};
use crate::components::resource::{resource, Resource};
use leptos::{prelude::*, web_sys};
use leptos_meta::Title;
use serde::de::DeserializeOwned;
use server_fn::{client::Client, codec::PostUrl, request::ClientReq, Http, ServerFn};

/// The page's actions and data, made once per visit in the route, outside [`ForRoles`], and
/// handed to the page. (`ForRoles` now builds its page once, so a page may also make its data
/// itself, as the other pages do.)
#[derive(Clone, Copy)]
struct MethodsPage {
    begin: ServerAction<BeginAuthenticator>,
    confirm: ServerAction<ConfirmAuthenticator>,
    remove: ServerAction<RemoveAuthenticator>,
    generate: ServerAction<GenerateRecoveryCodes>,
    step_up: ServerAction<StepUp>,
    phone: PhoneActions,
    rename: ServerAction<RenameFactor>,
    default: ServerAction<SetDefaultMethod>,
    sign_out: ServerAction<SignOutOtherSessions>,
    send: ServerAction<SendStepUpCode>,
    methods: Resource<Result<SignInMethods, AppError>>,
    phones: Resource<Result<PhonesView, AppError>>,
    passkeys: Passkeys,
}

impl MethodsPage {
    fn new() -> Self {
        let begin = ServerAction::<BeginAuthenticator>::new();
        let confirm = ServerAction::<ConfirmAuthenticator>::new();
        let remove = ServerAction::<RemoveAuthenticator>::new();
        let generate = ServerAction::<GenerateRecoveryCodes>::new();
        let step_up = ServerAction::<StepUp>::new();
        let phone = PhoneActions::new();
        let rename = ServerAction::<RenameFactor>::new();
        let default = ServerAction::<SetDefaultMethod>::new();
        let sign_out = ServerAction::<SignOutOtherSessions>::new();
        let send = ServerAction::<SendStepUpCode>::new();
        let methods = resource(
            move || {
                (
                    confirm.version().get(),
                    remove.version().get(),
                    generate.version().get(),
                    step_up.version().get(),
                    // A failed start may mean the step-up ran out: show the form again.
                    begin.version().get(),
                    phone.versions(),
                    rename.version().get(),
                )
            },
            |_| my_sign_in_methods(),
        );
        let phones = resource(
            move || (phone.versions(), rename.version().get(), default.version().get(), step_up.version().get(), confirm.version().get(), remove.version().get()),
            |_| my_phones(),
        );
        let passkeys = Passkeys::new();
        Self { begin, confirm, remove, generate, step_up, phone, rename, default, sign_out, send, methods, phones, passkeys }
    }
}

/// The route: the page's state, then the page for end users (anyone else gets the refusal).
#[component]
pub fn SignInMethodsPage() -> impl IntoView {
    let page = MethodsPage::new();
    view! {
        <ForRoles roles=&[Role::EndUser]>
            <Methods page />
        </ForRoles>
    }
}

#[component]
fn Methods(page: MethodsPage) -> impl IntoView {
    let MethodsPage {
        begin,
        confirm,
        remove,
        generate,
        step_up,
        phone,
        rename,
        default,
        sign_out,
        send,
        methods,
        phones,
        passkeys,
    } = page;
    // The enrolment on screen is over once its code was accepted.
    let enrolling = move || match begin.value().get() {
        Some(Ok(e)) if was_confirmed(&e, confirm) => None,
        other => other,
    };
    // A change was made in this page: offer to sign out the other sessions.
    let changed = Signal::derive(move || {
        let ok = |v: Option<bool>| v.unwrap_or(false);
        ok(confirm.value().with(|v| v.as_ref().map(Result::is_ok)))
            || ok(remove.value().with(|v| v.as_ref().map(Result::is_ok)))
            || ok(generate.value().with(|v| v.as_ref().map(Result::is_ok)))
            || ok(phone.confirm.value().with(|v| v.as_ref().map(Result::is_ok)))
            || ok(phone.remove.value().with(|v| v.as_ref().map(Result::is_ok)))
            || ok(rename.value().with(|v| v.as_ref().map(Result::is_ok)))
            || ok(default.value().with(|v| v.as_ref().map(Result::is_ok)))
            || passkeys.changed_here()
    });
    view! {
        <Title text="Sign-in methods" />
        <PageHeader title="Sign-in methods">
            <p>
                "When you log in to one of your organisation's servers, HostGuard asks for a code from your "
                "authenticator app or your phone. Keep recovery codes for when your phone is not at hand."
            </p>
        </PageHeader>
        <Loaded resource=methods ok=move |m| view! { <Guard methods=m step_up /> } />
        // Hidden while the notice above says the person has no method yet (style/main.css).
        <div class="needs-a-method">
        <Loaded resource=phones ok=move |p| view! { <TextMeACode phones=p send /> } />
        <OtherSessions changed sign_out />
        <PasskeyMethods state=passkeys />
        <section class="panel" aria-labelledby="your-methods">
            <h2 id="your-methods">"Methods you have"</h2>
            <FormResult value=remove.value() success=|_| "Authenticator removed.".to_owned() />
            <FormResult value=confirm.value() success=|a: crate::models::AuthenticatorRow| format!("{} added.", a.name) />
            <FormResult value=rename.value() success=|n: String| format!("Renamed {n}.") />
            <FormResult value=phone.remove.value() success=|_| "Phone removed.".to_owned() />
            <Loaded
                resource=methods
                ok=move |m| {
                    let count = m.authenticators.len();
                    view! {
                        {if m.authenticators.is_empty() {
                            view! {
                                <p class="empty">"No authenticator yet: add one to log in to servers."</p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <div class="factor-table">
                                    <DataTable headers=&["Name", "Kind", "Added", "Last used", "Operation"]>
                                        {m
                                            .authenticators
                                            .into_iter()
                                            .map(|a| {
                                                let label = format!("Remove {}", a.name);
                                                view! {
                                                    <tr>
                                                        <td data-label="Name">{a.name.clone()}</td>
                                                        <td data-label="Kind">"Authenticator app"</td>
                                                        <td data-label="Added" class="small">{utc(a.added)}</td>
                                                        <td data-label="Last used" class="small">
                                                            {a.last_used.map(utc).unwrap_or_else(|| "Never".to_owned())}
                                                        </td>
                                                        <td data-label="Operation">
                                                            <div class="row-actions">
                                                                <Rename rename kind="authenticator" id=a.id.to_string() name=a.name.clone() />
                                                                <RowAction action=remove value=a.id.to_string() text="Remove" label />
                                                            </div>
                                                        </td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </DataTable>
                                </div>
                            }
                                .into_any()
                        }}
                        <p class="hint">
                            {format!("{count} of {} authenticators.", m.max_authenticators)}
                        </p>
                    }
                }
            />
            <Loaded resource=phones ok=move |p| view! { <PhoneInForce phones=p remove=phone.remove rename /> } />
        </section>
        <PhonePanel phones phone />
        <section class="panel">
            <h2>"Add an authenticator app"</h2>
            <ActionForm action=begin attr:class="form-grid">
                <TextField id="app-name" label="Name" name="name" maxlength="64" placeholder="My phone">
                    "Optional. Helps you tell your devices apart."
                </TextField>
                <SubmitButton label="Add authenticator" pending=begin.pending() />
            </ActionForm>
            {move || enrolling().map(|r| view! { <Enrolment result=r confirm /> })}
        </section>
        <DefaultMethodPanel phones default />
        <RecoveryCodes methods generate />
        </div>
    }
}

/// The phone actions, kept together: adding, confirming, sending again, removing.
#[derive(Clone, Copy)]
struct PhoneActions {
    begin: ServerAction<BeginPhone>,
    confirm: ServerAction<ConfirmPhone>,
    resend: ServerAction<ResendPhoneCode>,
    remove: ServerAction<RemovePhone>,
}

impl PhoneActions {
    fn new() -> Self {
        Self {
            begin: ServerAction::new(),
            confirm: ServerAction::new(),
            resend: ServerAction::new(),
            remove: ServerAction::new(),
        }
    }

    fn versions(&self) -> (usize, usize, usize, usize) {
        (self.begin.version().get(), self.confirm.version().get(), self.resend.version().get(), self.remove.version().get())
    }
}

/// A factor's name, changed in place: a small form behind a "Rename" disclosure, posted to
/// `rename` (with `kind` when the server function serves several kinds of factor).
#[component]
pub(crate) fn Rename<S, P>(
    rename: ServerAction<S>,
    #[prop(optional)] kind: Option<&'static str>,
    id: String,
    name: String,
) -> impl IntoView
where
    S: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData: From<web_sys::FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Client: Client<S::Error>,
    P: 'static,
{
    let field = format!("rename-{id}");
    view! {
        <details class="rename">
            <summary class="link-button" aria-label=format!("Rename {name}")>"Rename"</summary>
            <ActionForm action=rename attr:class="rename-form">
                {kind.map(|kind| view! { <input type="hidden" name="kind" value=kind /> })}
                <input type="hidden" name="id" value=id />
                <label for=field.clone()>"New name"</label>
                <input id=field name="name" type="text" maxlength="64" required value=name />
                <button type="submit" class="button button-secondary" disabled=move || rename.pending().get()>
                    "Save name"
                </button>
            </ActionForm>
        </details>
    }
}

/// The phone in force, as a row of the methods list (as a table of its own: its columns differ).
#[component]
fn PhoneInForce(phones: PhonesView, remove: ServerAction<RemovePhone>, rename: ServerAction<RenameFactor>) -> impl IntoView {
    phones.in_force.map(|p| {
        let label = format!("Remove {}", p.name);
        view! {
            <div class="factor-table">
                <DataTable headers=&["Name", "Kind", "Number", "Added", "Operation"]>
                    <tr>
                        <td data-label="Name">{p.name.clone()}</td>
                        <td data-label="Kind">"Phone (SMS and calls)"</td>
                        <td data-label="Number" class="mono">{p.number.clone()}</td>
                        <td data-label="Added" class="small">{utc(p.added)}</td>
                        <td data-label="Operation">
                            <div class="row-actions">
                                <Rename rename kind="phone" id=p.id.to_string() name=p.name.clone() />
                                <RowAction action=remove value=p.id.to_string() text="Remove" label />
                            </div>
                        </td>
                    </tr>
                </DataTable>
            </div>
        }
    })
}

/// Adding or replacing the phone: the number, then the code sent to it.
#[component]
fn PhonePanel(phones: Resource<Result<PhonesView, AppError>>, phone: PhoneActions) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="phone-heading">
            <h2 id="phone-heading">"Phone"</h2>
            <p>
                "A phone gets SMS passcodes and calls that read a code aloud when you log in. A new number "
                "counts once you type the code sent to it; until then the phone you have keeps working."
            </p>
            <FormResult value=phone.confirm.value() success=|p: crate::models::PhoneRow| format!("{} confirmed.", p.name) />
            <FormResult value=phone.resend.value() success=|p: crate::models::PendingPhoneRow| format!("A new code was sent to {}.", p.number) />
            <Loaded
                resource=phones
                ok=move |p| {
                    let replacing = p.in_force.is_some();
                    let pending = p.pending.clone();
                    let minutes = p.code_valid_minutes;
                    view! {
                        {pending
                            .map(|pending| {
                                let id = pending.id.to_string();
                                let (resend_id, cancel_id) = (id.clone(), id.clone());
                                view! {
                                    <div class="pending-phone">
                                        <p>
                                            {format!(
                                                "We sent a code to {} ({}). Type it here within {minutes} minutes (until {}).",
                                                pending.number,
                                                pending.name,
                                                utc(pending.code_expires),
                                            )}
                                        </p>
                                        <ActionForm action=phone.confirm attr:class="form-grid">
                                            <input type="hidden" name="id" value=id />
                                            <div class="field">
                                                <label for="phone-code">"Code sent to the phone"</label>
                                                <input id="phone-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required />
                                            </div>
                                            <SubmitButton label="Confirm phone" pending=phone.confirm.pending() />
                                        </ActionForm>
                                        <div class="row-actions">
                                            <RowAction action=phone.resend value=resend_id text="Send a new code" class="link-button" label=format!("Send a new code to {}", pending.number) />
                                            <RowAction action=phone.remove value=cancel_id text="Cancel" label=format!("Cancel adding {}", pending.number) />
                                        </div>
                                    </div>
                                }
                            })}
                        <h3 class="subhead">{if replacing { "Replace your phone" } else { "Add a phone" }}</h3>
                        <ActionForm action=phone.begin attr:class="form-grid">
                            <div class="field">
                                <label for="phone-number">"Phone number"</label>
                                <input id="phone-number" name="number" type="tel" inputmode="tel" autocomplete="tel" maxlength="16" placeholder="+14155550123" required />
                                <p class="hint">"With + and the country code."</p>
                            </div>
                            <TextField id="phone-name" label="Phone name" name="name" maxlength="64" placeholder="Phone">
                                "Optional."
                            </TextField>
                            <SubmitButton label="Send code" pending=phone.begin.pending() secondary=replacing />
                        </ActionForm>
                    }
                }
            />
            <FormResult value=phone.begin.value() success=|p: crate::models::PendingPhoneRow| format!("A code was sent to {}.", p.number) />
        </section>
    }
}

/// The method the login prompt tries first.
#[component]
fn DefaultMethodPanel(phones: Resource<Result<PhonesView, AppError>>, default: ServerAction<SetDefaultMethod>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="default-heading">
            <h2 id="default-heading">"Default method"</h2>
            <p>"The method your login prompt tries first. The others stay available."</p>
            <FormResult value=default.value() success=|m: DefaultMethod| format!("Default method: {}.", m.label()) />
            <Loaded
                resource=phones
                ok=move |p| {
                    let current = p.default_method;
                    view! {
                        <ActionForm action=default>
                            <fieldset class="methods-choice">
                                <legend>"Try first"</legend>
                                {DefaultMethod::ALL
                                    .iter()
                                    .map(|m| {
                                        let usable = p.choosable.contains(m);
                                        let id = format!("default-{}", m.as_str());
                                        let for_id = id.clone();
                                        view! {
                                            <label class="radio" for=for_id>
                                                <input
                                                    id=id
                                                    type="radio"
                                                    name="method"
                                                    value=m.as_str()
                                                    checked=current == Some(*m)
                                                    disabled=!usable
                                                />
                                                {m.label()}
                                                {(!usable).then_some(" (add one first)")}
                                            </label>
                                        }
                                    })
                                    .collect_view()}
                            </fieldset>
                            <button type="submit" class="button button-secondary" disabled=move || default.pending().get()>
                                "Save default method"
                            </button>
                        </ActionForm>
                    }
                }
            />
        </section>
    }
}

/// While a change needs a step-up: a code texted to the phone in force, to type as the current
/// code (for a person without an app at hand, or whose phone is their only lasting method).
#[component]
fn TextMeACode(phones: PhonesView, send: ServerAction<SendStepUpCode>) -> impl IntoView {
    let phone = phones.in_force.filter(|_| phones.needs_step_up)?;
    Some(view! {
        <section class="panel text-me" aria-labelledby="text-me-heading">
            <h2 id="text-me-heading">"No app at hand?"</h2>
            <p>{format!("We can text a code to {} ({}) to type as your current code above.", phone.name, phone.number)}</p>
            <ActionForm action=send>
                <button type="submit" class="button button-secondary" disabled=move || send.pending().get()>
                    {format!("Text a code to {}", phone.name)}
                </button>
            </ActionForm>
            <FormResult
                value=send.value()
                success=|s: crate::models::StepUpCodeSent| format!("Code sent. You can ask for another after {}.", utc(s.resend_at))
            />
        </section>
    })
}

/// After a change: the offer to end every other session of the user.
#[component]
fn OtherSessions(#[prop(into)] changed: Signal<bool>, sign_out: ServerAction<SignOutOtherSessions>) -> impl IntoView {
    move || {
        (changed.get() || sign_out.value().get().is_some()).then(|| {
            view! {
                <section class="panel other-sessions" aria-labelledby="other-sessions">
                    <h2 id="other-sessions">"Signed in somewhere else?"</h2>
                    <p>
                        "Your sign-in methods changed. If you may still be signed in on another device, or someone "
                        "else may know your password, sign out everywhere else."
                    </p>
                    <ActionForm action=sign_out>
                        <button type="submit" class="button button-secondary" disabled=move || sign_out.pending().get()>
                            // Not "Sign out …": that is the account menu's button.
                            "End my other sessions"
                        </button>
                    </ActionForm>
                    <FormResult
                        value=sign_out.value()
                        success=|n: u64| match n {
                            0 => "You had no other sessions.".to_owned(),
                            1 => "1 other session was ended.".to_owned(),
                            n => format!("{n} other sessions were ended."),
                        }
                    />
                </section>
            }
        })
    }
}

/// What a change needs now, and the one field that gives it: a current code (a step-up), or,
/// with no method yet, the invitation's link (only the administrator sends one).
#[component]
fn Guard(methods: SignInMethods, step_up: ServerAction<StepUp>) -> impl IntoView {
    let minutes = methods.step_up_minutes;
    let heading = if methods.has_factor || methods.verified_until.is_some() {
        "Confirm it's you"
    } else {
        "Your first sign-in method"
    };
    let body = match (methods.has_factor, methods.verified_until.map(utc), methods.enrolment_open_until.map(utc)) {
        (_, Some(until), _) => view! {
            <p class="verified">
                {format!("Code accepted: you can change your sign-in methods until {until}.")}
            </p>
        }
        .into_any(),
        (true, None, _) => view! {
            <p>
                {format!(
                    "To add, rename or remove a sign-in method or make new recovery codes, first enter a current \
                     code from your authenticator app, a code sent to your phone, or one of your recovery codes. \
                     This keeps someone who learnt your password from changing how you log in. The code lets you \
                     make changes for {minutes} minutes."
                )}
            </p>
            <ActionForm action=step_up attr:class="form-grid">
                <TextField id="step-up-code" label="Current code" name="code" required=true maxlength="32" autocomplete="one-time-code">
                    "6 digits from your app or your phone, or a recovery code (it is then used up)."
                </TextField>
                <SubmitButton label="Verify" pending=step_up.pending() />
            </ActionForm>
        }
        .into_any(),
        (false, _, Some(until)) => view! {
            <p class="notice no-method-yet">
                {format!(
                    "You have no sign-in method yet. Your first one is added only from the link in your invitation, \
                     which works until {until}: open the invitation you were sent (by email or SMS) and follow its \
                     link. If you cannot find it, ask your administrator to send a new one."
                )}
            </p>
        }
        .into_any(),
        (false, _, None) => view! {
            <p class="notice notice-warn no-method-yet">
                <b>"Ask your administrator to send you an invitation."</b>
                " You have no sign-in method yet. Your first one is added only from the link in your invitation, "
                "so that a password alone never adds one; a link works for 24 hours."
            </p>
        }
        .into_any(),
    };
    view! {
        <section class="panel" aria-labelledby="guard-heading">
            <h2 id="guard-heading">{heading}</h2>
            {body}
            {move || {
                step_up
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| {
                        view! {
                            <p class="form-error" role="alert">
                                {e.to_string()}
                            </p>
                        }
                    })
            }}
        </section>
    }
}

fn was_confirmed(e: &NewAuthenticator, confirm: ServerAction<ConfirmAuthenticator>) -> bool {
    matches!(confirm.value().get(), Some(Ok(a)) if a.id == e.id)
}

/// An authenticator being added: the QR code and the secret as text, and the code to confirm.
#[component]
fn Enrolment(result: Result<NewAuthenticator, AppError>, confirm: ServerAction<ConfirmAuthenticator>) -> impl IntoView {
    match result {
        Err(e) => view! {
            <p class="form-error" role="alert">
                {e.to_string()}
            </p>
        }
        .into_any(),
        Ok(e) => view! {
            <div class="enrolment">
                <ol class="steps">
                    <li>
                        "In your authenticator app (Microsoft Authenticator, Google Authenticator or another), "
                        "add an account: open the link below on this phone, or scan the QR code."
                    </li>
                    <li>"Type the 6-digit code the app shows, then confirm."</li>
                </ol>
                <a class="button button-primary open-app" href=e.otpauth_uri.clone()>
                    "Open in my authenticator app"
                </a>
                <p class="hint">"On this phone: opens the app to add HostGuard. On a computer: scan the QR code."</p>
                <img class="qr" src=e.qr_data_uri.clone() width="200" height="200" alt="QR code to add HostGuard to an authenticator app" />
                <SecretKey secret=e.secret.clone() />
                <ActionForm action=confirm attr:class="form-grid">
                    <input type="hidden" name="id" value=e.id.to_string() />
                    <div class="field">
                        <label for="app-code">"Code from the app"</label>
                        <input
                            id="app-code"
                            name="code"
                            type="text"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength="7"
                            required
                        />
                        <p class="hint">{format!("Confirm by {}, or add the authenticator again.", utc(e.expires))}</p>
                    </div>
                    <SubmitButton label="Confirm" pending=confirm.pending() />
                </ActionForm>
            </div>
        }
        .into_any(),
    }
}

/// The seed as text, whole on any screen, with a button that copies it.
#[component]
fn SecretKey(secret: String) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let text = secret.clone();
    view! {
        <div class="field secret-key">
            <label for="app-secret">"Secret key"</label>
            <div class="secret-row">
                <textarea id="app-secret" class="mono" readonly rows="2" spellcheck="false">
                    {secret}
                </textarea>
                // Named "Copy key", not "…secret key": the field's label stays the one match for it.
                <button
                    type="button"
                    class="button button-secondary"
                    on:click=move |_| copied.set(Some(crate::components::urn::copy(&text)))
                >
                    "Copy key"
                </button>
            </div>
            <p class="hint" aria-live="polite">
                {move || match copied.get() {
                    Some(true) => "Copied.",
                    Some(false) => "Your browser refused to copy: select the key and copy it by hand.",
                    None => "Can't scan or open the link? Type this key into the app (time-based, 6 digits, 30 seconds).",
                }}
            </p>
        </div>
    }
}

#[component]
fn RecoveryCodes(
    methods: Resource<Result<crate::models::SignInMethods, AppError>>,
    generate: ServerAction<GenerateRecoveryCodes>,
) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>"Recovery codes"</h2>
            <p>
                "Each recovery code logs you in once instead of a code from the app. Keep them somewhere safe, "
                "away from your phone."
            </p>
            <Loaded
                resource=methods
                ok=move |m| {
                    view! {
                        <p class="recovery-status">
                            {match m.recovery_generated.map(utc) {
                                Some(at) => format!("{} of {} recovery codes left (made {at}).", m.recovery_left, m.recovery_total),
                                None => "You have no recovery codes.".to_owned(),
                            }}
                        </p>
                    }
                }
            />
            <ActionForm action=generate>
                <button type="submit" class="button button-secondary" disabled=move || generate.pending().get()>
                    "Generate new recovery codes"
                </button>
                <p class="hint">"Any codes you have now stop working."</p>
            </ActionForm>
            {move || {
                generate
                    .value()
                    .get()
                    .map(|r| match r {
                        Err(e) => {
                            view! {
                                <p class="form-error" role="alert">
                                    {e.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                        Ok(codes) => {
                            view! {
                                <div class="new-codes" role="status">
                                    <p class="notice notice-warn">
                                        <b>"Save these codes now."</b>
                                        " They are shown only this once. Each works once; generating new codes makes these stop working."
                                    </p>
                                    <ol class="recovery-codes mono">
                                        {codes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                                    </ol>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
}
