//! `/hss/servers/:id`: one server's facts. Another tenant's server is "not found".

use crate::{
    components::status::{Badge, Loaded, PageHeader},
    functions::servers::get_server,
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
                            <dt>"Two-factor authentication"</dt>
                            <dd>"Disabled"</dd>
                        </dl>
                    }
                }
            />
        </section>
    }
}
