//! Administration → Outbox: every message with its tenant, status, attempts, last error and
//! text, so a demo can follow a code from request to delivery. Filters (tenant, status,
//! channel) and the page live in the URL. Secrets in messages (link tokens, codes) come masked
//! from the rules layer; they never reach this page.

use crate::{
    components::{
        filters::pager_link,
        poll::poll_every,
        status::{status_badge, Loaded, PageHeader},
    },
    functions::{audit::list_outbox, tenants::list_tenants},
    models::{utc, OutboxPage as Page, OutboxQuery, PAGE_SIZES},
};
use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate, hooks::use_query_map};
use std::time::Duration;

const PATH: &str = "/admin/outbox";
const DEFAULT_SIZE: u64 = 20;
/// The filters, in the order the URL carries them.
const FILTERS: [&str; 3] = ["tenant", "status", "channel"];
const STATUSES: [(&str, &str); 5] =
    [("", "All"), ("pending", "Pending"), ("sent", "Sent"), ("held", "Held (development)"), ("failed", "Failed")];
const CHANNELS: [(&str, &str); 4] = [("", "All"), ("email", "Email"), ("sms", "SMS"), ("voice", "Voice")];

fn query_string(values: &[(&str, String)], size: u64, page: u64) -> String {
    crate::components::filters::query_string(values, size, DEFAULT_SIZE, page)
}

#[component]
pub fn OutboxPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok()).filter(|p| *p > 0).unwrap_or(1);
    let size = move || {
        query
            .read()
            .get("size")
            .and_then(|p| p.parse::<u64>().ok())
            .filter(|s| PAGE_SIZES.contains(s))
            .unwrap_or(DEFAULT_SIZE)
    };
    let messages = Resource::new(
        move || OutboxQuery {
            tenant: param("tenant"),
            status: param("status"),
            channel: param("channel"),
            page: page(),
            page_size: size(),
        },
        list_outbox,
    );
    let tenants = Resource::new(|| (), |_| list_tenants());
    poll_every(Duration::from_secs(5), move || messages.refetch());

    let tenant_ref = NodeRef::<html::Select>::new();
    let status_ref = NodeRef::<html::Select>::new();
    let channel_ref = NodeRef::<html::Select>::new();
    let size_ref = NodeRef::<html::Select>::new();
    let navigate = use_navigate();
    // Any change shows the first page of the new view.
    let apply = move || {
        let select = |r: NodeRef<html::Select>, k: &str| r.get().map(|e| e.value()).unwrap_or_else(|| param(k));
        let values = [
            ("tenant", select(tenant_ref, "tenant")),
            ("status", select(status_ref, "status")),
            ("channel", select(channel_ref, "channel")),
        ];
        let size = size_ref.get().and_then(|e| e.value().parse().ok()).unwrap_or(DEFAULT_SIZE);
        navigate(&format!("{PATH}{}", query_string(&values, size, 1)), Default::default());
    };
    let on_change = {
        let apply = apply.clone();
        move |_| apply()
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        apply();
    };
    let filtered = move || FILTERS.iter().any(|k| !param(k).trim().is_empty());
    let choice = move |name: &'static str,
                       label: &'static str,
                       r: NodeRef<html::Select>,
                       options: &'static [(&'static str, &'static str)]| {
        view! {
            <label class="inline-field">
                {label}
                <select name=name node_ref=r prop:value=move || param(name)>
                    {options
                        .iter()
                        .map(|(v, t)| {
                            let v = *v;
                            view! {
                                <option value=v selected=move || param(name) == v>
                                    {*t}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };

    view! {
        <Title text="Outbox" />
        <PageHeader title="Outbox" crumbs=&["Administration"]>
            <p>
                "Every email, SMS and voice message, newest first. Failed attempts are retried with growing waits; after 8 the message is marked Failed. "
                "Without an SMS gateway configured, SMS and voice messages stay here as Held (development): they never reach a phone. "
                "Link tokens and codes are masked (••••••): only their recipient ever sees them."
            </p>
        </PageHeader>
        <section class="panel">
            <form method="GET" action=PATH on:change=on_change on:submit=on_submit aria-label="Filter messages">
                <div class="toolbar">
                    <Transition fallback=|| {
                        view! {
                            <label class="inline-field">
                                "Tenant" <select name="tenant" disabled>
                                    <option value="">"All tenants"</option>
                                </select>
                            </label>
                        }
                    }>
                        {move || Suspend::new(async move {
                            let options = tenants.await.unwrap_or_default();
                            view! {
                                <label class="inline-field">
                                    "Tenant"
                                    <select name="tenant" node_ref=tenant_ref prop:value=move || param("tenant")>
                                        <option value="" selected=move || param("tenant").is_empty()>
                                            "All tenants"
                                        </option>
                                        {options
                                            .into_iter()
                                            .map(|t| {
                                                let id = t.id.to_string();
                                                view! {
                                                    <option value=id.clone() selected=move || param("tenant") == id>
                                                        {t.name}
                                                    </option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </label>
                            }
                        })}
                    </Transition>
                    {choice("status", "Status", status_ref, &STATUSES)}
                    {choice("channel", "Channel", channel_ref, &CHANNELS)}
                    <label class="inline-field">
                        "Per page" <select name="size" node_ref=size_ref prop:value=move || size().to_string()>
                            {PAGE_SIZES
                                .iter()
                                .map(|s| {
                                    let s = *s;
                                    view! {
                                        <option value=s.to_string() selected=move || size() == s>
                                            {s.to_string()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="button button-secondary">
                        "Apply filters"
                    </button>
                    {move || filtered().then(|| view! { <A href=PATH>"Clear filters"</A> })}
                </div>
            </form>
            <Loaded resource=messages ok=move |page| view! { <OutboxTable page filtered=filtered() /> } />
        </section>
    }
}

#[component]
fn OutboxTable(page: Page, filtered: bool) -> impl IntoView {
    let pages = page.total.div_ceil(page.page_size.max(1)).max(1);
    if page.items.is_empty() {
        let text = if filtered { "No messages match these filters." } else { "No messages yet." };
        return view! { <p class="empty">{text}</p> }.into_any();
    }
    let link = {
        let query = use_query_map();
        let size = page.page_size;
        move |p: u64| {
            let q = query.read_untracked();
            let values: Vec<(&str, String)> = FILTERS.iter().map(|k| (*k, q.get(k).unwrap_or_default())).collect();
            format!("{PATH}{}", query_string(&values, size, p))
        }
    };
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < pages).then(|| link(page.page + 1));
    let count = if page.total == 1 { "1 message".to_owned() } else { format!("{} messages", page.total) };
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="data-table">
                <caption class="visually-hidden">"Messages, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Tenant"</th>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Recipient"</th>
                        <th scope="col">"Message"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">
                            "Attempts"
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .items
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
        <nav class="pager" aria-label="Pages">
            <span class="pager-total">{format!("{count} · page {} of {pages}", page.page)}</span>
            {pager_link(prev, "Previous", "prev")}
            {pager_link(next, "Next", "next")}
        </nav>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::query_string;

    #[test]
    fn the_url_carries_only_the_filters_that_are_set() {
        let v = |pairs: &[(&'static str, &str)]| pairs.iter().map(|(k, v)| (*k, v.to_string())).collect::<Vec<_>>();
        assert_eq!(query_string(&v(&[("tenant", ""), ("status", "")]), 20, 1), "");
        assert_eq!(
            query_string(&v(&[("status", "held"), ("channel", "sms")]), 50, 2),
            "?status=held&channel=sms&size=50&page=2"
        );
    }
}
