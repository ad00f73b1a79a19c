//! Administration → Tenant accounts (operators only).

use crate::{
    components::{
        form::{SubmitButton, TextField},
        status::{DataTable, FormResult, Loaded, PageHeader},
    },
    functions::{
        servers::list_regions,
        tenants::{list_tenants, PreRegisterServer},
    },
    models::{Label, OsType, Region, TenantRow},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TenantsPage() -> impl IntoView {
    let register = ServerAction::<PreRegisterServer>::new();
    let tenants = resource(move || register.version().get(), |_| list_tenants());
    let regions = resource(|| (), |_| list_regions());
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
        // Only for those who may see the tenants: the error above says enough to anyone else.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match (tenants.await, regions.await) {
                    (Ok(list), Ok(regions)) => {
                        view! {
                            <section class="panel">
                                <h2>"Pre-register a server"</h2>
                                <p class="muted">
                                    "Adds a customer's server to their inventory before its agent registers. It shows as offline, with protection off, until the agent reports in."
                                </p>
                                <RegisterForm tenants=list regions action=register />
                                <FormResult
                                    value=register.value()
                                    success=|name: String| format!("Server {name} registered.")
                                />
                            </section>
                        }
                            .into_any()
                    }
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RegisterForm(
    tenants: Vec<TenantRow>,
    regions: Vec<Region>,
    action: ServerAction<PreRegisterServer>,
) -> impl IntoView {
    view! {
        <ActionForm action attr:class="form-grid">
            <div class="field">
                <label for="reg-tenant">"Tenant"</label>
                <select id="reg-tenant" name="tenant_id">
                    {tenants.into_iter().map(|t| view! { <option value=t.id.to_string()>{t.name}</option> }).collect_view()}
                </select>
            </div>
            <TextField id="reg-name" label="Server name" name="name" required=true maxlength="64" placeholder="web-01" />
            <TextField id="reg-ip" label="IP address" name="ip" required=true placeholder="192.168.0.10" />
            <div class="field">
                <label for="reg-os">"OS"</label>
                <select id="reg-os" name="os_type">
                    {OsType::ALL.iter().map(|os| view! { <option value=os.as_str()>{os.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="reg-region">"Region"</label>
                <select id="reg-region" name="region">
                    {regions.into_iter().map(|r| view! { <option value=r.id>{r.name}</option> }).collect_view()}
                </select>
            </div>
            <SubmitButton label="Register server" pending=action.pending() />
        </ActionForm>
    }
}
