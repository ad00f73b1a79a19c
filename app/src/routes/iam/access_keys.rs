//! My Credentials → Access Keys: a tenant admin's keys for the HSS-compatible API. The secret
//! key is shown once, when the key is created; a key is revoked after a confirmation.

use crate::{
    components::{
        form::{SubmitButton, TextField},
        status::{Badge, DataTable, FormResult, Loaded, PageHeader},
    },
    functions::access_keys::{list_access_keys, CreateAccessKey, RevokeAccessKey},
    models::{utc, AccessKeyStatus, AppError, Label, NewAccessKey, Status},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccessKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateAccessKey>::new();
    let revoke = ServerAction::<RevokeAccessKey>::new();
    let keys = resource(move || (create.version().get(), revoke.version().get()), |_| list_access_keys());
    view! {
        <Title text="Access Keys" />
        <PageHeader title="Access Keys" crumbs=&["My Credentials"]>
            <p>
                "An access key (AK) and its secret key (SK) sign requests to HostGuard's HSS- and SMN-compatible API, "
                "as Huawei Cloud's SDKs do. A key acts as you, in your tenant only. You can have 2 active keys; "
                "revoke one you no longer use."
            </p>
        </PageHeader>
        <section class="panel">
            <h2>"Create access key"</h2>
            <ActionForm action=create attr:class="form-grid">
                <TextField id="key-description" label="Description" name="description" maxlength="255" placeholder="Deployment script">
                    "Optional; up to 255 characters. Says what uses the key."
                </TextField>
                <SubmitButton label="Create access key" pending=create.pending() />
            </ActionForm>
            {move || create.value().get().map(|r| view! { <NewKey result=r /> })}
        </section>
        <section class="panel">
            <FormResult value=revoke.value() success=|_| "Access key revoked.".to_owned() />
            <Loaded
                resource=keys
                ok=move |value| {
                    let project = value.project_id.clone();
                    view! {
                        <p class="small">
                            "Project ID (the "<code>"project_id"</code>" in API paths): "
                            <span class="mono">{project}</span>
                        </p>
                        {if value.keys.is_empty() {
                            view! { <p class="empty">"No access keys."</p> }.into_any()
                        } else {
                            view! {
                                <DataTable headers=&[
                                    "Access Key ID",
                                    "Description",
                                    "Status",
                                    "Created",
                                    "Last Used",
                                    "Operation",
                                ]>
                                    {value
                                        .keys
                                        .into_iter()
                                        .map(|k| {
                                            let active = k.status == AccessKeyStatus::Active;
                                            let ak = k.access_key.clone();
                                            view! {
                                                <tr>
                                                    <td class="mono">{k.access_key.clone()}</td>
                                                    <td>{k.description}</td>
                                                    <td>
                                                        <Badge kind=k.status.badge() text=k.status.label().to_owned() />
                                                    </td>
                                                    <td class="small">{utc(k.created)}</td>
                                                    <td class="small">
                                                        {k.last_used.map(utc).unwrap_or_else(|| "Never".to_owned())}
                                                    </td>
                                                    <td>
                                                        {active
                                                            .then(|| {
                                                                view! {
                                                                    <details class="revoke-key">
                                                                        <summary class="link-button danger">"Revoke"</summary>
                                                                        <p class="small">
                                                                            {format!(
                                                                                "Scripts using {ak} stop working at once. This cannot be undone.",
                                                                            )}
                                                                        </p>
                                                                        <ActionForm action=revoke>
                                                                            <input type="hidden" name="id" value=k.id.to_string() />
                                                                            <button
                                                                                type="submit"
                                                                                class="button button-danger"
                                                                                aria-label=format!("Revoke access key {}", ak)
                                                                            >
                                                                                "Revoke key"
                                                                            </button>
                                                                        </ActionForm>
                                                                    </details>
                                                                }
                                                            })}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </DataTable>
                            }
                                .into_any()
                        }}
                    }
                }
            />
        </section>
    }
}

/// The key just created: its secret, shown this once, and a ready-to-paste curl command.
#[component]
fn NewKey(result: Result<NewAccessKey, AppError>) -> impl IntoView {
    match result {
        Err(e) => view! {
            <p class="form-error" role="alert">
                {e.to_string()}
            </p>
        }
        .into_any(),
        Ok(k) => {
            let curl = format!(
                "curl -H \"Authorization: Bearer {}.{}\" \\\n  \"{}/v5/{}/setting/two-factor-login/hosts?limit=10\"",
                k.access_key, k.secret_key, k.endpoint, k.project_id
            );
            view! {
                <div class="new-key" role="status">
                    <p class="notice notice-warn">
                        <b>"Copy the secret key now."</b>
                        " It is shown only this once; HostGuard cannot show it again. If you lose it, revoke the key and create a new one."
                    </p>
                    <div class="form-grid">
                        <TextField id="new-ak" label="Access Key ID (AK)" value=k.access_key.clone() class="mono" />
                        <TextField id="new-sk" label="Secret Access Key (SK)" value=k.secret_key.clone() class="mono" />
                    </div>
                    <p class="hint">
                        "With curl, the bearer form sends the key itself; use it over HTTPS only. The SDKs sign each request instead."
                    </p>
                    <pre class="mono install-command">{curl}</pre>
                </div>
            }
                .into_any()
        }
    }
}
