//! `/hss/servers/:id`: one server's facts, and re-installing its agent. Another tenant's server
//! is "not found".

use crate::{
    components::status::{Badge, Loaded, PageHeader},
    functions::{agents::CreateReinstallCommand, servers::get_server},
    models::ReadinessItem,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

#[component]
pub fn ServerDetailPage() -> impl IntoView {
    let params = use_params_map();
    let server = Resource::new(move || params.read().get("id").unwrap_or_default(), get_server);
    view! {
        <Title text="Server" />
        <PageHeader title="Server details" crumbs=&["Host Security", "Installation & Configuration"]>
            <p>
                <A href="/hss/two-factor">"← Back to Two-Factor Authentication"</A>
            </p>
        </PageHeader>
        <section class="panel">
            <Loaded
                resource=server
                ok=move |s| {
                    view! {
                        <h2>{s.name.clone()}</h2>
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
                                    .clone()
                                    .map(|t| view! { <span class="muted small">{format!(" last seen {t}")}</span> })}
                            </dd>
                            <dt>"Agent version"</dt>
                            <dd>{s.agent_version.clone().unwrap_or_else(|| "--".into())}</dd>
                            <dt>"All addresses"</dt>
                            <dd>{if s.ips.is_empty() { s.ip.clone() } else { s.ips.join(", ") }}</dd>
                            <dt>"OpenSSH"</dt>
                            <dd>{s.openssh_version.clone().unwrap_or_else(|| "--".into())}</dd>
                            <dt>"Two-factor authentication"</dt>
                            <dd data-testid="two-factor-status">{s.two_factor.clone().unwrap_or_default()}</dd>
                        </dl>
                        <h3 class="subhead">"Readiness for two-factor authentication"</h3>
                        <Readiness items=s.readiness.clone() />
                        <ReinstallAgent server_id=s.id.clone() />
                    }
                }
            />
        </section>
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
    view! {
        <ul class="readiness">
            {items
                .into_iter()
                .map(|f| {
                    let (kind, label) = if f.blocker { ("err", "Blocker") } else { ("warn", "Warning") };
                    view! {
                        <li data-rule=f.rule>
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
