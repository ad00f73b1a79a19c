//! Administration → Outbox: every message with its tenant, status, attempts, last error and
//! text, so a demo can follow a code from request to delivery. Filters (tenant, status,
//! channel) and the page live in the URL. Secrets in messages (link tokens, codes) come masked
//! from the rules layer; they never reach this page.

use crate::{
    components::{
        list::{FilterForm, FilterSelect, ListFilters, ListPage, ListResults, ListUrl, LoadedSelect},
        poll::poll_every,
        status::{status_badge, ColumnHeadings},
    },
    functions::{audit::list_outbox, tenants::list_tenants},
    models::{utc, OutboxPage as Page, OutboxQuery, OutboxRow, TenantRow},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use std::time::Duration;

const OUTBOX: ListUrl =
    ListUrl { path: "/admin/outbox", keys: &["tenant", "status", "channel", "size"], default_size: 20, defaults: &[] };
const INTRO: &str = concat!(
    "Every email, SMS and voice message, newest first. Failed attempts are retried with growing waits; after 8 the message is marked Failed. ",
    "Without an SMS gateway configured, SMS and voice messages stay here as Held (development): they never reach a phone. ",
    "Link tokens and codes are masked (••••••): only their recipient ever sees them.",
);
const STATUSES: &[(&str, &str)] =
    &[("", "All"), ("pending", "Pending"), ("sent", "Sent"), ("held", "Held (development)"), ("failed", "Failed")];
const CHANNELS: &[(&str, &str)] = &[("", "All"), ("email", "Email"), ("sms", "SMS"), ("voice", "Voice")];

#[component]
pub fn OutboxPage() -> impl IntoView {
    let filters = ListFilters::new(OUTBOX);
    let messages = resource(
        move || OutboxQuery {
            tenant: filters.get("tenant"),
            status: filters.get("status"),
            channel: filters.get("channel"),
            page: filters.page(),
            page_size: filters.size(),
        },
        list_outbox,
    );
    let tenants = resource(|| (), |_| list_tenants());
    poll_every(Duration::from_secs(5), move || messages.refetch());

    view! {
        <ListPage title="Outbox" crumbs=&["Administration"] intro=INTRO>
            <FilterForm label="Filter messages" submit="Apply filters" clear=true>
                <LoadedSelect name="tenant" label="Tenant" all="All tenants" options=tenants choice=|t: TenantRow| (t.id.to_string(), t.name) />
                <FilterSelect name="status" label="Status" options=STATUSES />
                <FilterSelect name="channel" label="Channel" options=CHANNELS />
            </FilterForm>
            <ListResults resource=messages rows=|page: Page| view! { <OutboxTable rows=page.items /> }
                one="message" many="messages" no_match="No messages match these filters." empty="No messages yet." />
        </ListPage>
    }
}

#[component]
fn OutboxTable(rows: Vec<OutboxRow>) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="data-table">
                <caption class="visually-hidden">"Messages, newest first"</caption>
                <ColumnHeadings headers=&["Created", "Tenant", "Channel", "Recipient", "Message", "Status", "#Attempts"] />
                <tbody>
                    {rows
                        .into_iter()
                        .map(|m| {
                            view! {
                                <tr>
                                    <td class="small">{utc(m.created)}</td>
                                    <td>{m.tenant.unwrap_or_else(|| "None".to_owned())}</td>
                                    <td>{m.channel.as_str().to_uppercase()}</td>
                                    <td>{m.recipient}</td>
                                    <td>
                                        <details>
                                            <summary>
                                                {if m.subject.is_empty() { m.kind.to_string() } else { m.subject.clone() }}
                                            </summary>
                                            <pre class="message-body">{m.body_text}</pre>
                                        </details>
                                        {m.last_error.map(|e| view! { <p class="small error-text">{e}</p> })}
                                    </td>
                                    <td class="status-cell">
                                        {status_badge(m.status)}
                                        {m.sent.map(|t| view! { <div class="muted small">{utc(t)}</div> })}
                                    </td>
                                    <td class="num">{m.attempts}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_url_carries_only_the_filters_that_are_set() {
        let href = |pairs: &[(&str, &str)], page: u64| {
            super::OUTBOX
                .href(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default(), page)
        };
        assert_eq!(href(&[("tenant", ""), ("status", "")], 1), "/admin/outbox");
        assert_eq!(
            href(&[("status", "held"), ("channel", "sms"), ("size", "50")], 2),
            "/admin/outbox?status=held&channel=sms&size=50&page=2"
        );
    }
}
