//! Administration → Tenant accounts (operators only).

use crate::{
    components::status::{DataTable, Loaded, PageHeader},
    functions::tenants::list_tenants,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TenantsPage() -> impl IntoView {
    let tenants = Resource::new(|| (), |_| list_tenants());
    view! {
        <Title text="Tenant accounts" />
        <PageHeader title="Tenant accounts" crumbs=&["Administration"]>
            <p>"The customers whose MFA accounts the provider's team administers."</p>
        </PageHeader>
        <section class="panel">
            <Loaded
                resource=tenants
                ok=move |list| {
                    view! {
                        <DataTable headers=&[
                            "Tenant",
                            "Project ID",
                            "#Admins",
                            "#Users",
                            "#Servers",
                            "#Agents online",
                        ]>
                            {list
                                .into_iter()
                                .map(|t| {
                                    view! {
                                        <tr>
                                            <td>{t.name}</td>
                                            <td class="mono small">{t.project_id}</td>
                                            <td class="num">{t.admins}</td>
                                            <td class="num">{t.end_users}</td>
                                            <td class="num">{t.servers}</td>
                                            <td class="num">{t.servers_online}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </DataTable>
                    }
                }
            />
        </section>
    }
}
