//! Host Security → Installation & Configuration → Two-Factor Authentication: the server list.

use crate::{
    components::{
        layout::RegionState,
        status::{Badge, DataTable, Loaded, PageHeader},
    },
    functions::servers::list_servers,
    models::{ServerPage, ServerRow},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Form, A},
    hooks::use_query_map,
};

const PAGE_SIZES: [u64; 4] = [10, 20, 50, 100];

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("search").unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok()).filter(|p| *p > 0).unwrap_or(1);
    let size = move || {
        query.read().get("size").and_then(|p| p.parse::<u64>().ok()).filter(|s| PAGE_SIZES.contains(s)).unwrap_or(10)
    };
    let region = expect_context::<RegionState>().0;
    let servers = Resource::new(
        move || (search(), region.get(), page(), size()),
        |(search, region, page, size)| list_servers(search, region, page, size),
    );

    view! {
        <Title text="Two-Factor Authentication" />
        <PageHeader title="Two-Factor Authentication" crumbs=&["Host Security", "Installation & Configuration"]>
            <p>
                "Two-factor authentication asks everyone who logs in to a server for a verification code after their password. "
                "Servers appear here when their agent registers."
            </p>
        </PageHeader>
        <section class="panel">
            <Form method="GET" action="">
                <div class="toolbar">
                    <label class="search">
                        <span class="visually-hidden">"Search by server name or IP address"</span>
                        <input
                            type="search"
                            name="search"
                            placeholder="Search by server name or IP address"
                            prop:value=search
                        />
                    </label>
                    <label class="inline-field">
                        "Per page" <select name="size" prop:value=move || size().to_string()>
                            {PAGE_SIZES
                                .iter()
                                .map(|s| view! { <option value=s.to_string()>{s.to_string()}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="button button-secondary">
                        "Search"
                    </button>
                </div>
            </Form>
            <Loaded resource=servers ok=move |page| view! { <ServerTable page search=search() /> } />
        </section>
    }
}

#[component]
fn ServerTable(page: ServerPage, search: String) -> impl IntoView {
    let pages = page.total.div_ceil(page.page_size).max(1);
    let link = {
        let search = search.clone();
        let size = page.page_size;
        move |p: u64| format!("?search={}&size={size}&page={p}", encode(&search))
    };
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < pages).then(|| link(page.page + 1));
    if page.items.is_empty() {
        return view! {
            <p class="empty">
                {if search.is_empty() {
                    "No servers yet.".to_owned()
                } else {
                    format!("No server matches “{search}”.")
                }}
            </p>
        }
        .into_any();
    }
    view! {
        <DataTable headers=&[
            "Protected Server",
            "OS",
            "Agent",
            "2FA Status",
            "Method",
            "Topic",
            "Operation",
        ]>{page.items.into_iter().map(|s| view! { <ServerLine s /> }).collect_view()}</DataTable>
        <nav class="pager" aria-label="Pages">
            <span class="pager-total">{format!("{} servers · page {} of {pages}", page.total, page.page)}</span>
            {match prev {
                Some(href) => {
                    view! {
                        <A href=href attr:class="button button-secondary" attr:rel="prev">
                            "Previous"
                        </A>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <span class="button button-secondary" aria-disabled="true">
                            "Previous"
                        </span>
                    }
                        .into_any()
                }
            }}
            {match next {
                Some(href) => {
                    view! {
                        <A href=href attr:class="button button-secondary" attr:rel="next">
                            "Next"
                        </A>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <span class="button button-secondary" aria-disabled="true">
                            "Next"
                        </span>
                    }
                        .into_any()
                }
            }}
        </nav>
    }
    .into_any()
}

#[component]
fn ServerLine(s: ServerRow) -> impl IntoView {
    let os = if s.os_type == "windows" { "Windows" } else { "Linux" };
    view! {
        <tr>
            <td>
                <A href=format!("/hss/servers/{}", s.id)>{s.name.clone()}</A>
                <div class="muted small">{s.ip.clone()}</div>
            </td>
            <td>{os}<div class="muted small">{s.os_name.clone()}</div></td>
            <td>
                {if s.agent_online {
                    view! { <Badge kind="ok" text="Online".into() /> }.into_any()
                } else {
                    view! { <Badge kind="muted" text="Offline".into() /> }.into_any()
                }}
            </td>
            <td>
                <Badge kind="muted" text="Disabled".into() />
            </td>
            <td>"--"</td>
            <td>"--"</td>
            <td>
                <A href=format!("/hss/servers/{}", s.id)>"Details"</A>
            </td>
        </tr>
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("web 01&x=1"), "web%2001%26x%3D1");
        assert_eq!(super::encode("192.168.10.35"), "192.168.10.35");
    }
}
