//! Administration → Outbox: every message with its status, attempts, last error and text, so a
//! demo can follow a code from request to delivery. Secrets in messages (link tokens, codes)
//! come masked from the rules layer; they never reach this page.

use crate::{
    components::{
        poll::poll_every,
        status::{status_badge, DataTable, Loaded, PageHeader},
    },
    functions::audit::list_outbox,
};
use leptos::prelude::*;
use leptos_meta::Title;
use std::time::Duration;

#[component]
pub fn OutboxPage() -> impl IntoView {
    let messages = Resource::new(|| (), |_| list_outbox());
    poll_every(Duration::from_secs(5), move || messages.refetch());
    view! {
        <Title text="Outbox" />
        <PageHeader title="Outbox" crumbs=&["Administration"]>
            <p>
                "Every email, SMS and voice message, newest first. Failed attempts are retried with growing waits; after 8 the message is marked Failed. Link tokens and codes are masked (••••••): only their recipient ever sees them."
            </p>
        </PageHeader>
        <section class="panel">
            <Loaded
                resource=messages
                ok=move |value| match value {
                    list if list.is_empty() => view! { <p class="empty">"No messages yet."</p> }.into_any(),
                    list => {
                        view! {
                            <DataTable headers=&[
                                "Created",
                                "Channel",
                                "Recipient",
                                "Message",
                                "Status",
                                "#Attempts",
                            ]>
                                {list
                                    .into_iter()
                                    .map(|m| {
                                        view! {
                                            <tr>
                                                <td class="small">{m.created}</td>
                                                <td>{m.channel.to_uppercase()}</td>
                                                <td>{m.recipient}</td>
                                                <td>
                                                    <details>
                                                        <summary>
                                                            {if m.subject.is_empty() {
                                                                m.kind.clone()
                                                            } else {
                                                                m.subject.clone()
                                                            }}
                                                        </summary>
                                                        <pre class="message-body">{m.body_text}</pre>
                                                    </details>
                                                    {m
                                                        .last_error
                                                        .map(|e| view! { <p class="small error-text">{e}</p> })}
                                                </td>
                                                <td>
                                                    {status_badge(&m.status)}
                                                    {m.sent.map(|t| view! { <div class="muted small">{t}</div> })}
                                                </td>
                                                <td class="num">{m.attempts}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </DataTable>
                        }
                            .into_any()
                    }
                }
            />
        </section>
    }
}
