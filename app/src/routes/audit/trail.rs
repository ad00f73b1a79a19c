//! The audit trail: a tenant admin sees their tenant's events, an operator everyone's.

use crate::{
    components::status::{Loaded, PageHeader},
    functions::audit::list_audit,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AuditPage() -> impl IntoView {
    let events = Resource::new(|| (), |_| list_audit());
    view! {
        <Title text="Audit trail"/>
        <PageHeader title="Audit trail">
            <p>"Who created, changed, confirmed or deleted what, when, and from which address. Newest first."</p>
        </PageHeader>
        <section class="panel">
            <Loaded resource=events ok=move |value| match value {
                    list if list.is_empty() => view! { <p class="empty">"Nothing has happened yet."</p> }.into_any(),
                        list => view! {
                            <div class="table-wrap">
                                <table class="data-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Time"</th>
                                            <th scope="col">"Who"</th>
                                            <th scope="col">"Action"</th>
                                            <th scope="col">"Target"</th>
                                            <th scope="col">"Detail"</th>
                                            <th scope="col">"From"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {list.into_iter().map(|e| view! {
                                            <tr>
                                                <td class="small">{e.time}</td>
                                                <td>{e.actor}</td>
                                                <td class="mono small">{e.action}</td>
                                                <td class="mono small">{e.target}</td>
                                                <td>{e.detail}</td>
                                                <td class="mono small">{e.source_ip}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                        .into_any(),
                }/>
        </section>
    }
}
