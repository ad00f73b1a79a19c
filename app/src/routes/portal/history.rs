//! The portal's Sign-in history: the end user's logins to servers (those whose server account
//! is mapped to them), newest first, with how each ended. A login they do not recognise is a
//! reason to tell their administrator.

use crate::{
    components::status::{Badge, DataTable, Loaded, PageHeader},
    functions::portal::my_sign_in_history,
    models::{utc, Label, Status},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

const PAGE_SIZE: u64 = 20;

#[component]
pub fn SignInHistoryPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(1).max(1);
    let history = Resource::new(page, |p| my_sign_in_history(p, PAGE_SIZE));
    view! {
        <Title text="Sign-in history" />
        <PageHeader title="Sign-in history">
            <p>
                "Your logins to your organisation's servers. If you see one you did not make, tell your administrator "
                "at once: someone may know the server account's password."
            </p>
        </PageHeader>
        <section class="panel">
            <Loaded
                resource=history
                ok=move |h| {
                    let pages = h.total.div_ceil(h.page_size).max(1);
                    let prev = (h.page > 1).then(|| format!("?page={}", h.page - 1));
                    let next = (h.page < pages).then(|| format!("?page={}", h.page + 1));
                    view! {
                        {if h.rows.is_empty() {
                            view! { <p class="empty">"No logins yet."</p> }.into_any()
                        } else {
                            view! {
                                <DataTable headers=&["Time", "Server", "Account", "From", "Result", "Details"]>
                                    {h
                                        .rows
                                        .into_iter()
                                        .map(|r| {
                                            view! {
                                                <tr>
                                                    <td class="small">{utc(r.time)}</td>
                                                    <td>{r.server}</td>
                                                    <td class="mono">{r.account}</td>
                                                    <td class="mono">{r.source_ip}</td>
                                                    <td>
                                                        <Badge kind=r.result.badge() text=r.result.label().to_owned() />
                                                    </td>
                                                    <td class="small">{r.reason}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </DataTable>
                            }
                                .into_any()
                        }}
                        <nav class="pager" aria-label="Pages">
                            <span class="pager-total">
                                {format!(
                                    "{} · page {} of {pages}",
                                    crate::components::status::count(h.total, "login", "logins"),
                                    h.page,
                                )}
                            </span>
                            {prev
                                .map(|href| {
                                    view! {
                                        <A href=href attr:class="button button-secondary" attr:rel="prev">
                                            "Previous"
                                        </A>
                                    }
                                })}
                            {next
                                .map(|href| {
                                    view! {
                                        <A href=href attr:class="button button-secondary" attr:rel="next">
                                            "Next"
                                        </A>
                                    }
                                })}
                        </nav>
                    }
                }
            />
        </section>
    }
}
