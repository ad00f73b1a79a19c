//! `/hss/servers/:id`: one server's facts, re-installing its agent, its login protection (fail
//! mode, exemptions, break-glass codes) and its latest logins. Another tenant's server is "not
//! found".

use crate::{
    components::{
        form::SubmitButton,
        logins::{server_audit_href, LoginTable},
        status::{Badge, ErrorPanel, FormResult, Loading, PageHeader},
    },
    functions::{
        agents::CreateReinstallCommand,
        logins::{break_glass, list_logins, login_settings, IssueBreakGlass, SaveLoginSettings},
        servers::get_server,
        two_factor::CancelTwoFactor,
    },
    models::{
        utc, AppError, BreakGlassStatus, ChangeResult, DateTime, FailMode, LoginAuditPage, LoginAuditQuery,
        LoginSettingsView, ReadinessItem, SafeModeAllows, Utc,
    },
};
use crate::components::resource::{resource, Resource};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

/// The page's data besides the server itself. Every resource of the page is made at its top,
/// before anything is awaited: while the server renders a `Loaded`, it may draw its view more
/// than once (Leptos re-runs it to find its reads), so a resource or a `Loaded` (Transition)
/// made inside that view took another hydration id on the server than in the browser, and the
/// browser hydrated against the wrong data: "Unrecoverable hydration error", a dead page.
/// Sections inside the server's view therefore wait with `inner_loaded`, which makes nothing,
/// and the server's view waits for their data before it is drawn.
#[derive(Clone, Copy)]
struct PageData {
    save: ServerAction<SaveLoginSettings>,
    settings: Resource<Result<LoginSettingsView, AppError>>,
    issue: ServerAction<IssueBreakGlass>,
    break_glass: Resource<Result<BreakGlassStatus, AppError>>,
    logins: Resource<Result<LoginAuditPage, AppError>>,
}

#[component]
pub fn ServerDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let cancel = ServerAction::<CancelTwoFactor>::new();
    let server = resource(move || (id(), cancel.version().get()), |(id, _)| get_server(id));
    let save = ServerAction::<SaveLoginSettings>::new();
    // Only a successful save reloads the form; after a refused one the typed values stay.
    let saved = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let issue = ServerAction::<IssueBreakGlass>::new();
    let data = PageData {
        save,
        settings: resource(move || (id(), saved.get()), |(id, _)| login_settings(id)),
        issue,
        break_glass: resource(move || (id(), issue.version().get()), |(id, _)| break_glass(id)),
        logins: resource(
            move || LoginAuditQuery { server: id(), page_size: 10, ..Default::default() },
            list_logins,
        ),
    };
    view! {
        <Title text="Server" />
        <PageHeader title="Server details" crumbs=&["Host Security", "Installation & Configuration"]>
            <p>
                <A href="/hss/two-factor">"← Back to Two-Factor Authentication"</A>
            </p>
        </PageHeader>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                // The sections' data too: the server draws a Suspend inside this view only if
                // its data are already here, so without this it raced them, and the browser
                // (which had them) found other HTML than it drew: a hydration error.
                let _ = (data.settings.await, data.break_glass.await, data.logins.await);
                match server.await {
                    Ok(s) => {
                        view! {
                            <section class="panel">
                                <h2>{s.name.clone()}</h2>
                                <AgentWarnings
                                    rejected=s.agent_credential_rejected
                                    allows=s.safe_mode_allows.clone()
                                />
                                <dl class="facts">
                                    <dt>"IP address"</dt>
                                    <dd>{s.ip.clone()}</dd>
                                    <dt>"Operating system"</dt>
                                    <dd>{s.os_name.clone()}</dd>
                                    <dt>"Region"</dt>
                                    <dd>{s.region.clone()}</dd>
                                    <dt>"Server protection"</dt>
                                    <dd>{if s.protection_enabled { "Enabled" } else { "Disabled" }}</dd>
                                    <dt>"Agent"</dt>
                                    <dd>
                                        {if s.agent_online {
                                            view! { <Badge kind="ok" text="Online".into() /> }.into_any()
                                        } else {
                                            view! { <Badge kind="muted" text="Offline".into() /> }.into_any()
                                        }}
                                        {s
                                            .last_seen
                                            .map(|t| view! { <span class="muted small">{format!(" last seen {}", utc(t))}</span> })}
                                    </dd>
                                    <dt>"Agent version"</dt>
                                    <dd>{s.agent_version.clone().unwrap_or_else(|| "--".into())}</dd>
                                    <dt>"All addresses"</dt>
                                    <dd>{if s.ips.is_empty() { s.ip.clone() } else { s.ips.join(", ") }}</dd>
                                    <dt>"OpenSSH"</dt>
                                    <dd>{s.openssh_version.clone().unwrap_or_else(|| "--".into())}</dd>
                                    <dt>"Two-factor authentication"</dt>
                                    <dd data-testid="two-factor-status">
                                        {s.two_factor.clone().unwrap_or_default()}
                                        {s
                                            .two_factor_cancelable
                                            .then({
                                                let id = s.id.to_string();
                                                move || {
                                                view! {
                                                    <ActionForm action=cancel attr:class="inline-form">
                                                        <input type="hidden" name="server_ids[]" value=id />
                                                        <button type="submit" class="link-button danger">
                                                            "Cancel the change"
                                                        </button>
                                                    </ActionForm>
                                                }
                                                }
                                            })}
                                        <FormResult
                                            value=cancel.value()
                                            success=|r: ChangeResult| {
                                                if r.changed > 0 {
                                                    "Change canceled.".to_owned()
                                                } else {
                                                    r.refused.into_iter().flat_map(|s| s.reasons).collect::<Vec<_>>().join(" ")
                                                }
                                            }
                                        />
                                    </dd>
                                </dl>
                                <h3 class="subhead">"Readiness for two-factor authentication"</h3>
                                <Readiness items=s.readiness.clone() />
                                <ReinstallAgent server_id=s.id.to_string() />
                            </section>
                            <LoginProtection server_id=s.id.to_string() data />
                            <RecentLogins server_id=s.id.to_string() data />
                        }
                        .into_any()
                    }
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Like `Loaded`, for a resource shown inside another `Loaded`'s view: it waits within that
/// view's Transition and makes no Transition (no hydration id) of its own; see `PageData`.
fn inner_loaded<T, V>(
    resource: Resource<Result<T, AppError>>,
    ok: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    move || {
        let ok = ok.clone();
        Suspend::new(async move {
            match resource.await {
                Ok(value) => ok(value).into_any(),
                Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
            }
        })
    }
}

/// A one-time command that replaces this server's agent (a rebuilt machine, a lost credential).
/// An install token from the 2FA tab never takes over a server that has an agent.
#[component]
fn ReinstallAgent(server_id: String) -> impl IntoView {
    let make = ServerAction::<CreateReinstallCommand>::new();
    view! {
        <details class="reinstall-agent">
            <summary>"Re-install agent"</summary>
            <p class="small">
                "The command's token registers this server only and replaces its agent: the current agent's credential stops working at once, "
                "and the server's 2FA configuration is applied again by the new agent (until then its status shows Enabling… or Disabling…). "
                "Run it as root on the server, with the agent's package "<code>{crate::functions::agents::AGENT_PACKAGE}</code>" in the current directory, after "
                <code>"systemctl stop hostguard-agent; rm /var/lib/hostguard/agent.json"</code>" there. Valid for 24 hours, shown once; "
                "issuing and using it is recorded in the audit log."
            </p>
            <ActionForm action=make>
                <input type="hidden" name="server_id" value=server_id />
                <button type="submit" class="button button-secondary" disabled=move || make.pending().get()>
                    "Create re-install command"
                </button>
            </ActionForm>
            <crate::components::install::NewInstallCommand result=move || make.value().get() />
        </details>
    }
}

/// Blockers (2FA cannot be enabled until they are fixed) and warnings, each with its fix.
#[component]
fn Readiness(items: Vec<ReadinessItem>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="readiness-ok">"Ready: nothing stands in the way of two-factor authentication."</p> }
            .into_any();
    }
    let ready = !items.iter().any(|f| f.blocker);
    view! {
        {ready
            .then(|| {
                view! {
                    <p class="readiness-ok">
                        "Ready: nothing blocks two-factor authentication. Read the warnings before you enable it."
                    </p>
                }
            })}
        <ul class="readiness">
            {items
                .into_iter()
                .map(|f| {
                    let (kind, label) = if f.blocker { ("err", "Blocker") } else { ("warn", "Warning") };
                    view! {
                        <li data-rule=f.rule.as_str()>
                            <Badge kind text=label.to_owned() />
                            " "
                            {f.message}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// The messages of a save's errors for one form field: `exempt_networks` gets those of
/// `exempt_networks` and of its entries (`exempt_networks[1]` reads "Entry 2: …").
fn field_errors(result: &Option<Result<LoginSettingsView, AppError>>, field: &str) -> Vec<String> {
    let errors: Vec<(String, String)> = match result {
        Some(Err(AppError::Validation { field, message })) => vec![(field.clone(), message.clone())],
        Some(Err(AppError::Invalid(list))) => list.iter().map(|e| (e.field.clone(), e.message.clone())).collect(),
        _ => return vec![],
    };
    errors
        .into_iter()
        .filter_map(|(f, message)| {
            if f == field {
                return Some(message);
            }
            let index = f.strip_prefix(field)?.strip_prefix('[')?.strip_suffix(']')?.parse::<usize>().ok()?;
            Some(format!("Entry {}: {message}", index + 1))
        })
        .collect()
}

/// A field's errors under it, announced; `id` is what the field's `aria-describedby` names.
fn errors_under(id: &'static str, errors: Vec<String>) -> impl IntoView {
    (!errors.is_empty()).then(|| {
        view! {
            <ul class="field-errors" id=id role="alert">
                {errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}
            </ul>
        }
    })
}

/// The server's login settings: what happens while the console cannot be reached, who needs
/// no second factor, and break-glass codes.
#[component]
fn LoginProtection(server_id: String, data: PageData) -> impl IntoView {
    let save = data.save;
    let id = server_id.clone();
    view! {
        <section class="panel login-protection" aria-labelledby="login-protection">
            <h2 id="login-protection">"Login protection"</h2>
            {inner_loaded(data.settings, move |s| view! { <SettingsForm server_id=id.clone() settings=s save /> })}
            {move || match save.value().get() {
                Some(Ok(_)) => view! {
                    <p class="form-ok" role="status">
                        "Login protection saved. The server's agent gets it with its next check-in."
                    </p>
                }
                    .into_any(),
                Some(Err(AppError::Validation { .. } | AppError::Invalid(_))) => view! {
                    <p class="form-error" role="alert">
                        "Nothing was saved: correct the fields marked above."
                    </p>
                }
                    .into_any(),
                Some(Err(e)) => view! {
                    <p class="form-error" role="alert">
                        {e.to_string()}
                    </p>
                }
                    .into_any(),
                None => ().into_any(),
            }}
            <BreakGlass server_id data />
        </section>
    }
}

#[component]
fn SettingsForm(
    server_id: String,
    settings: LoginSettingsView,
    save: ServerAction<SaveLoginSettings>,
) -> impl IntoView {
    let errors = move |field: &'static str| save.value().with(|r| field_errors(r, field));
    let invalid = move |field: &'static str| (!errors(field).is_empty()).then_some("true");
    let safe = settings.fail_mode == FailMode::Safe;
    view! {
        <ActionForm action=save attr:class="form-grid">
            <input type="hidden" name="server_id" value=server_id />
            <fieldset class="field-wide" aria-describedby="fail-mode-errors">
                <legend>"When the console cannot be reached"</legend>
                <label class="radio">
                    <input type="radio" name="fail_mode" value=FailMode::Secure.as_str() checked=!safe />
                    "Secure — deny when the console cannot be reached (default)"
                </label>
                <label class="radio">
                    <input type="radio" name="fail_mode" value=FailMode::Safe.as_str() checked=safe />
                    "Safe — allow and record"
                </label>
                <p class="hint">
                    "Exempt accounts and networks, and break-glass codes, still let people in while the console is unreachable. "
                    "Safe logins are recorded and show in the login audit as Offline."
                </p>
                {move || errors_under("fail-mode-errors", errors("fail_mode"))}
            </fieldset>
            <div class="field field-wide">
                <label class="checkbox">
                    <input
                        type="checkbox"
                        name="allow_unenrolled"
                        value="on"
                        checked=settings.allow_unenrolled
                        aria-describedby="allow-unenrolled-hint"
                    />
                    "Allow accounts without an enrolled user (audited)"
                </label>
                <p class="hint notice-warn" id="allow-unenrolled-hint">
                    "Weakens protection: in verification-code mode, an account not linked to an enrolled HostGuard user logs in "
                    "with its password alone. Each such login is recorded in the login audit. Off by default."
                </p>
            </div>
            <div class="field">
                <label for="exempt-accounts">"Exempt accounts"</label>
                <textarea
                    id="exempt-accounts"
                    name="exempt_accounts"
                    rows="4"
                    aria-describedby="exempt-accounts-hint exempt-accounts-errors"
                    aria-invalid=move || invalid("exempt_accounts")
                >
                    {settings.exempt_accounts.join("\n")}
                </textarea>
                <p class="hint" id="exempt-accounts-hint">
                    "One account per line, e.g. backup. Logins to these accounts need no second factor. At most 50."
                </p>
                {move || errors_under("exempt-accounts-errors", errors("exempt_accounts"))}
            </div>
            <div class="field">
                <label for="exempt-networks">"Exempt networks"</label>
                <textarea
                    id="exempt-networks"
                    name="exempt_networks"
                    rows="4"
                    aria-describedby="exempt-networks-hint exempt-networks-errors"
                    aria-invalid=move || invalid("exempt_networks")
                >
                    {settings.exempt_networks.join("\n")}
                </textarea>
                <p class="hint" id="exempt-networks-hint">
                    "One network per line in CIDR form (10.0.0.0/8, 2001:db8::/32) or one address. Logins from these "
                    "addresses need no second factor. At most 50."
                </p>
                {move || errors_under("exempt-networks-errors", errors("exempt_networks"))}
            </div>
            <SubmitButton label="Save login protection" pending=save.pending() />
        </ActionForm>
    }
}

/// Unused codes and when they were issued; a new set replaces them and is shown once.
#[component]
fn BreakGlass(server_id: String, data: PageData) -> impl IntoView {
    let issue = data.issue;
    // The codes are shown by the page's wasm; a plain form post before it has loaded would
    // replace the codes and show none of the new ones. So the button waits for it.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <h3 class="subhead">"Break-glass codes"</h3>
        <p class="small">
            "Each code lets one login in while the console is unreachable, whatever the fail mode. "
            "Keep them where people can reach them in an outage, and nowhere else."
        </p>
        {inner_loaded(
            data.break_glass,
            |s| {
                view! {
                    <p data-testid="break-glass-status">
                        {match (s.unused, s.issued.map(utc)) {
                            (0, _) => "No unused codes.".to_owned(),
                            (n, Some(at)) => format!("{n} unused, issued {at}."),
                            (n, None) => format!("{n} unused."),
                        }}
                    </p>
                }
            },
        )}
        <details class="revoke-key issue-codes">
            <summary class="button button-secondary">"Issue new codes"</summary>
            <p class="small">
                "The unused codes issued before stop working at once. The new codes are shown only this once; the server's "
                "agent gets them with its next check-in."
            </p>
            <ActionForm action=issue>
                <input type="hidden" name="server_id" value=server_id />
                <button type="submit" class="button button-danger" disabled=move || !ready.get() || issue.pending().get()>
                    "Replace with 10 new codes"
                </button>
            </ActionForm>
        </details>
        {move || {
            issue
                .value()
                .get()
                .map(|r| match r {
                    Ok(codes) => view! {
                        <div class="new-key" role="status">
                            <p class="notice notice-warn">
                                <b>"Store these codes safely now."</b>
                                " They are shown only this once. Each lets one login in while the console is unreachable, "
                                "then it is spent."
                            </p>
                            <ol class="break-glass-codes mono" aria-label="New break-glass codes">
                                {codes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                            </ol>
                        </div>
                    }
                        .into_any(),
                    Err(e) => view! {
                        <p class="form-error" role="alert">
                            {e.to_string()}
                        </p>
                    }
                        .into_any(),
                })
        }}
    }
}

/// The server's latest logins, and the way to all of them.
#[component]
fn RecentLogins(server_id: String, data: PageData) -> impl IntoView {
    let href = server_audit_href(&server_id);
    view! {
        <section class="panel" aria-labelledby="recent-logins">
            <h2 id="recent-logins">"Latest logins"</h2>
            {inner_loaded(
                data.logins,
                move |page| {
                    if page.items.is_empty() {
                        view! {
                            <p class="empty">
                                "No logins yet. Logins to this server that reach HostGuard's login module will show here."
                            </p>
                        }
                            .into_any()
                    } else {
                        view! {
                            <LoginTable
                                rows=page.items
                                caption="The latest 10 logins to this server, newest first".to_owned()
                                show_server=false
                            />
                        }
                            .into_any()
                    }
                },
            )}
            <p>
                <A href=href>"All logins to this server in the Login audit →"</A>
            </p>
        </section>
    }
}

/// What the console learned about the agent that needs the admin: a refused credential (the
/// agent cannot fix that itself) and logins let in without a second factor while the console
/// was unreachable.
#[component]
fn AgentWarnings(rejected: Option<DateTime<Utc>>, allows: Option<SafeModeAllows>) -> impl IntoView {
    view! {
        {rejected.map(|at| view! {
            <div class="notice notice-error" role="alert" data-testid="agent-credential-rejected">
                <p><strong>"Agent credential rejected"</strong>{format!(" (last at {})", utc(at))}</p>
                <p>
                    "An agent on this server called the console with a credential that is no longer valid, so the console "
                    "cannot reach it: 2FA changes do not arrive, and logins are decided by its last known policy. "
                    "To fix it, re-install the agent with a token from Re-install agent below."
                </p>
            </div>
        })}
        {allows.map(|a| view! {
            <div class="notice notice-warn" role="status" data-testid="safe-mode-allows">
                <p>
                    {format!(
                        "{} let in without a second factor while the console was unreachable (fail mode safe) in the last {} days, last at {}. ",
                        if a.count == 1 { "1 login was".to_owned() } else { format!("{} logins were", a.count) },
                        a.days,
                        utc(a.last),
                    )}
                    <A href=a.audit_href>"See them in the login audit"</A>
                </p>
            </div>
        })}
    }
}
