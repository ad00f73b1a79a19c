//! The audit trail: a tenant admin sees their tenant's events, an operator everyone's.

use crate::{
    components::status::{DataTable, Loaded, PageHeader},
    functions::audit::list_audit,
    models::utc,
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AuditPage() -> impl IntoView {
    let events = resource(|| (), |_| list_audit());
    view! {
        <Title text="Audit trail" />
        <PageHeader title="Audit trail">
            <p>"Who created, changed, confirmed or deleted what, when, and from which address. Newest first."</p>
        </PageHeader>
        <section class="panel">
            <Loaded
                resource=events
                ok=move |value| match value {
                    list if list.is_empty() => view! { <p class="empty">"Nothing has happened yet."</p> }.into_any(),
                    list => {
                        view! {
                            <DataTable headers=&[
                                "Time",
                                "Who",
                                "Action",
                                "Target",
                                "Detail",
                                "From",
                            ]>
                                {list
                                    .into_iter()
                                    .map(|e| {
                                        view! {
                                            <tr>
                                                <td class="small">{utc(e.time)}</td>
                                                <td>{e.actor}</td>
                                                <td class="mono small">{e.action.as_str()}</td>
                                                <td class="mono small">{e.target}</td>
                                                <td>{e.detail}</td>
                                                <td class="mono small">{e.source_ip}</td>
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
