//! Logins as a table, on the login audit and on a server's page, and the link to the audit of
//! one server.

use crate::{
    components::filters::query_string,
    models::{login_method_cell, utc, Label, LoginOutcome, LoginRow, Status},
};
use leptos::prelude::*;
use leptos_router::components::A;

/// The login audit page.
pub(crate) const PATH: &str = "/hss/login-audit";
pub(crate) const DEFAULT_SIZE: u64 = 20;

/// The link to the audit of one server.
pub(crate) fn server_audit_href(server_id: &str) -> String {
    format!("{PATH}{}", query_string(&[("server", server_id.to_owned())], DEFAULT_SIZE, DEFAULT_SIZE, 1))
}

/// Logins as a table; also on a server's page (without the server column).
#[component]
pub(crate) fn LoginTable(rows: Vec<LoginRow>, caption: String, show_server: bool) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="data-table login-table">
                <caption class="visually-hidden">{caption}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        {show_server.then(|| view! { <th scope="col">"Server"</th> })}
                        <th scope="col">"Account"</th>
                        <th scope="col">"Source IP"</th>
                        <th scope="col">"Method"</th>
                        <th scope="col">"Result"</th>
                        <th scope="col">"Reason"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let server = show_server
                                .then(|| {
                                    view! {
                                        <td class="nowrap">
                                            <A href=format!("/hss/servers/{}", r.server_id)>{r.server_name.clone()}</A>
                                        </td>
                                    }
                                });
                            view! {
                                <tr data-result=r.result.as_str()>
                                    <td class="small nowrap">{utc(r.time)}</td>
                                    {server}
                                    <td class="mono">{r.account}</td>
                                    <td class="mono small">
                                        {if r.source_ip.is_empty() { "--".to_owned() } else { r.source_ip }}
                                    </td>
                                    <td>{login_method_cell(r.method)}</td>
                                    <td class="status-cell">
                                        {result_badge(r.result)}
                                        {r
                                            .offline
                                            .then(|| {
                                                view! {
                                                    " "
                                                    <span
                                                        class="badge badge-muted"
                                                        title="Decided by the server's agent while the console was unreachable, and reported later"
                                                    >
                                                        "Offline"
                                                    </span>
                                                }
                                            })}
                                    </td>
                                    <td>{r.reason}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The result in words, with a mark and a colour that repeat it.
fn result_badge(result: LoginOutcome) -> impl IntoView {
    let mark = match result {
        LoginOutcome::Allowed => "✓",
        LoginOutcome::Denied => "✕",
        LoginOutcome::Open => "…",
        LoginOutcome::Abandoned => "–",
    };
    view! {
        <span class=format!("badge badge-{}", result.badge())>
            <span aria-hidden="true">{mark}" "</span>
            {result.label()}
        </span>
    }
}
