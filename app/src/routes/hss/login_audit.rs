//! Host Security → Login audit: every login that reached HostGuard on the tenant's servers,
//! newest first. The filters live in the URL, so a reload or a shared link shows the same view.

use crate::{
    components::{
        filters::pager_link,
        logins::{LoginTable, DEFAULT_SIZE, PATH},
        status::{Loaded, PageHeader},
    },
    functions::logins::{list_logins, login_servers},
    models::{LoginAuditPage, LoginAuditQuery, PAGE_SIZES},
};
use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate, hooks::use_query_map};

/// The filters, in the order the URL carries them.
const FILTERS: [&str; 6] = ["server", "account", "result", "since", "until", "reason"];

fn query_string(values: &[(&str, String)], size: u64, page: u64) -> String {
    crate::components::filters::query_string(values, size, DEFAULT_SIZE, page)
}

#[component]
pub fn LoginAuditPage() -> impl IntoView {
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
    let logins = Resource::new(
        move || LoginAuditQuery {
            server: param("server"),
            account: param("account"),
            result: param("result"),
            since: param("since"),
            until: param("until"),
            reason: param("reason"),
            page: page(),
            page_size: size(),
        },
        list_logins,
    );
    let servers = Resource::new(|| (), |_| login_servers());

    let server_ref = NodeRef::<html::Select>::new();
    let account_ref = NodeRef::<html::Input>::new();
    let result_ref = NodeRef::<html::Select>::new();
    let since_ref = NodeRef::<html::Input>::new();
    let until_ref = NodeRef::<html::Input>::new();
    let size_ref = NodeRef::<html::Select>::new();
    let navigate = use_navigate();
    // Any change shows the first page of the new view.
    let apply = move || {
        let select = |r: NodeRef<html::Select>, k: &str| r.get().map(|e| e.value()).unwrap_or_else(|| param(k));
        let input = |r: NodeRef<html::Input>, k: &str| r.get().map(|e| e.value()).unwrap_or_else(|| param(k));
        let values = [
            ("server", select(server_ref, "server")),
            ("account", input(account_ref, "account")),
            ("result", select(result_ref, "result")),
            ("since", input(since_ref, "since")),
            ("until", input(until_ref, "until")),
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

    view! {
        <Title text="Login audit" />
        <PageHeader title="Login audit" crumbs=&["Host Security"]>
            <p>
                "Every login to your servers that reached HostGuard's login module: who logged in to which server, from where, "
                "how it was verified, and whether it was allowed. Logins a server's agent decided alone while the console "
                "was unreachable are marked Offline. Times are UTC."
            </p>
        </PageHeader>
        <section class="panel">
            <form method="GET" action=PATH on:change=on_change on:submit=on_submit aria-label="Filter logins">
                <div class="toolbar">
                    <Transition fallback=|| {
                        view! {
                            <label class="inline-field">
                                "Server" <select name="server" disabled>
                                    <option value="">"All servers"</option>
                                </select>
                            </label>
                        }
                    }>
                        {move || Suspend::new(async move {
                            let options = servers.await.unwrap_or_default();
                            view! {
                                <label class="inline-field">
                                    "Server"
                                    <select name="server" node_ref=server_ref prop:value=move || param("server")>
                                        <option value="" selected=move || param("server").is_empty()>
                                            "All servers"
                                        </option>
                                        {options
                                            .into_iter()
                                            .map(|s| {
                                                let id = s.id.to_string();
                                                view! {
                                                    <option value=id.clone() selected=move || param("server") == id>
                                                        {s.name}
                                                    </option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </label>
                            }
                        })}
                    </Transition>
                    <label class="inline-field">
                        "Account"
                        <input
                            type="text"
                            name="account"
                            node_ref=account_ref
                            maxlength="64"
                            placeholder="root"
                            prop:value=move || param("account")
                        />
                    </label>
                    <label class="inline-field">
                        "Result" <select name="result" node_ref=result_ref prop:value=move || param("result")>
                            {[("", "All"), ("allowed", "Allowed"), ("denied", "Denied"), ("open", "In progress or abandoned")]
                                .into_iter()
                                .map(|(v, t)| {
                                    view! {
                                        <option value=v selected=move || param("result") == v>
                                            {t}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <label class="inline-field">
                        "Since (UTC)"
                        <input type="datetime-local" name="since" node_ref=since_ref prop:value=move || param("since") />
                    </label>
                    <label class="inline-field">
                        "Until (UTC)"
                        <input type="datetime-local" name="until" node_ref=until_ref prop:value=move || param("until") />
                    </label>
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
            <Loaded resource=logins ok=move |page| view! { <AuditTable page filtered=filtered() /> } />
        </section>
    }
}

#[component]
fn AuditTable(page: LoginAuditPage, filtered: bool) -> impl IntoView {
    let pages = page.total.div_ceil(page.page_size.max(1)).max(1);
    if page.items.is_empty() {
        let text = if filtered {
            "No logins match these filters. Clear or widen them to see more."
        } else {
            "No logins yet. Each login to one of your servers that reaches HostGuard's login module will be listed here: \
             when, the server, the account, the source address, how it was verified, and whether it was allowed or denied and why."
        };
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
    view! {
        <LoginTable rows=page.items caption="Logins, newest first".to_owned() show_server=true />
        <nav class="pager" aria-label="Pages">
            <span class="pager-total">{format!(
                "{} · page {} of {pages}",
                crate::components::status::count(page.total, "login", "logins"),
                page.page,
            )}</span>
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
        assert_eq!(query_string(&v(&[("server", ""), ("result", "")]), 20, 1), "");
        assert_eq!(
            query_string(&v(&[("server", ""), ("result", "denied"), ("account", " ")]), 20, 1),
            "?result=denied"
        );
        assert_eq!(
            query_string(&v(&[("account", "web admin"), ("since", "2026-11-26T09:30")]), 50, 3),
            "?account=web%20admin&since=2026-11-26T09%3A30&size=50&page=3"
        );
    }
}
