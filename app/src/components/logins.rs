//! Logins as a table, on the login audit and on a server's page, and the link to the audit of
//! one server.

use crate::{
    components::{list::ListUrl, status::ColumnHeadings},
    models::{login_method_cell, utc, Label, LoginOutcome, LoginRow, Status},
};
use leptos::prelude::*;
use leptos_router::components::A;

/// The login audit's URL and its filters.
pub(crate) const LOGIN_AUDIT: ListUrl = ListUrl {
    path: "/hss/login-audit",
    keys: &["server", "account", "result", "since", "until", "reason", "size"],
    default_size: 20,
    defaults: &[],
};

/// The link to the audit of one server.
pub(crate) fn server_audit_href(server_id: &str) -> String {
    LOGIN_AUDIT.href(|k| if k == "server" { server_id.to_owned() } else { String::new() }, 1)
}

const WITH_SERVER: &[&str] = &["Time", "Server", "Account", "Source IP", "Method", "Result", "Reason"];
const WITHOUT_SERVER: &[&str] = &["Time", "Account", "Source IP", "Method", "Result", "Reason"];

/// Logins as a table; also on a server's page (without the server column).
#[component]
pub(crate) fn LoginTable(rows: Vec<LoginRow>, caption: String, show_server: bool) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="data-table login-table">
                <caption class="visually-hidden">{caption}</caption>
                <ColumnHeadings headers=if show_server { WITH_SERVER } else { WITHOUT_SERVER } />
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
