//! `/smn/topics/:id`: a topic's subscriptions (add, request confirmation, delete) and
//! publishing a message to its confirmed endpoints.

use crate::{
    components::{
        dialog::ConfirmDelete,
        form::{SubmitButton, TextField},
        poll::poll_every,
        status::{status_badge, DataTable, FormResult, Loaded, PageHeader},
        urn::ShortUrn,
    },
    functions::topics::{
        get_topic, list_subscriptions, AddSubscriptions, DeleteSubscription, PublishMessage, RequestConfirmation,
    },
    models::{utc, Label, Protocol, SubscriptionStatus},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};
use std::time::Duration;

#[component]
pub fn TopicDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let add = ServerAction::<AddSubscriptions>::new();
    let resend = ServerAction::<RequestConfirmation>::new();
    let remove = ServerAction::<DeleteSubscription>::new();
    // The subscription whose Delete was clicked, (id, endpoint), until confirmed or canceled.
    let removing = RwSignal::new(None::<(String, String)>);
    let publish = ServerAction::<PublishMessage>::new();
    let topic = resource(id, get_topic);
    let subs = resource(
        move || (id(), add.version().get(), resend.version().get(), remove.version().get()),
        |(id, _, _, _)| list_subscriptions(id),
    );
    // After a successful add, empty the form for the next ones.
    let endpoints_box = NodeRef::<leptos::html::Textarea>::new();
    let remark_box = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            if let Some(textarea) = endpoints_box.get_untracked() {
                textarea.set_value("");
            }
            if let Some(input) = remark_box.get_untracked() {
                input.set_value("");
            }
        }
    });
    let protocol = RwSignal::new(Protocol::Email);
    // Endpoints confirm from their own mail or phone: look again every few seconds while any
    // waits for its confirmation.
    // The resource is read in an effect, not in the timer: read anywhere else outside a
    // Transition while the page hydrates, it may differ from what the server drew.
    let waiting = RwSignal::new(false);
    Effect::new(move |_| {
        let any = subs
            .get()
            .and_then(Result::ok)
            .is_some_and(|l| l.iter().any(|s| s.status == SubscriptionStatus::Unconfirmed));
        waiting.set(any);
    });
    poll_every(Duration::from_secs(3), move || {
        if waiting.get_untracked() {
            subs.refetch();
        }
    });

    view! {
        <Title text="Topic" />
        <PageHeader title="Topic" crumbs=&["Simple Message Notification", "Topics"]>
            <p>
                <A href="/smn/topics">"← All topics"</A>
            </p>
        </PageHeader>
        <Loaded
            resource=topic
            ok=move |t| {
                view! {
                    <section class="panel">
                        <h2>{t.name.clone()}</h2>
                        <dl class="facts">
                            <dt>"Display name"</dt>
                            <dd>{t.display_name.clone()}</dd>
                            <dt>"Topic URN"</dt>
                            <dd>
                                <ShortUrn urn=t.urn.clone() label="Copy the topic URN".to_owned() />
                            </dd>
                            <dt>"Created"</dt>
                            <dd>{utc(t.created)}</dd>
                        </dl>
                    </section>
                }
            }
        />

        <section class="panel">
            <h2>"Add subscription"</h2>
            <ActionForm action=add attr:class="form-grid">
                <input type="hidden" name="topic_id" prop:value=id />
                <div class="field">
                    <label for="sub-protocol">"Protocol"</label>
                    <select
                        id="sub-protocol"
                        name="protocol"
                        on:change=move |ev| protocol.set(Protocol::parse(&event_target_value(&ev)).unwrap_or(Protocol::Email))
                    >
                        {[Protocol::Email, Protocol::Sms]
                            .map(|p| view! { <option value=p.as_str()>{p.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field field-wide">
                    <label for="sub-endpoints">"Endpoints"</label>
                    <textarea
                        node_ref=endpoints_box
                        id="sub-endpoints"
                        name="endpoints"
                        rows="4"
                        required
                        placeholder=move || {
                            if protocol.get() == Protocol::Sms {
                                "+8613800000000\n+8613900000000"
                            } else {
                                "ops@example.com\noncall@example.com"
                            }
                        }
                    ></textarea>
                    <p class="hint">
                        {move || {
                            if protocol.get() == Protocol::Sms {
                                "Phone numbers, one per line, up to 10, each with + and the country code."
                            } else {
                                "Email addresses, one per line, up to 10."
                            }
                        }}
                        " Each gets a confirmation message with a link valid for 48 hours."
                    </p>
                </div>
                <TextField id="sub-remark" label="Remark (optional)" name="remark" maxlength="128" node_ref=remark_box />
                <SubmitButton label="Add" pending=add.pending() />
            </ActionForm>
            <FormResult
                value=add.value()
                success=|n: usize| {
                    format!(
                        "{} added. Each endpoint must now follow the link in its confirmation message.",
                        crate::components::status::count(n as u64, "subscription", "subscriptions"),
                    )
                }
            />
        </section>

        <section class="panel">
            <h2>"Subscriptions"</h2>
            <FormResult value=resend.value() success=|_| "Confirmation requested again.".to_owned() />
            <FormResult value=remove.value() success=|_| "Subscription deleted.".to_owned() />
            <Loaded
                resource=subs
                ok=move |value| match value {
                    list if list.is_empty() => view! { <p class="empty">"No subscriptions yet."</p> }.into_any(),
                    list => {
                        view! {
                            <DataTable headers=&[
                                "Endpoint",
                                "Protocol",
                                "Status",
                                "Remark",
                                "Created",
                                "Operation",
                            ]>
                                {list
                                    .into_iter()
                                    .map(|s| {
                                        let unconfirmed = s.status == SubscriptionStatus::Unconfirmed;
                                        let resend_id = s.id.to_string();
                                        let asked = (s.id.to_string(), s.endpoint.clone());
                                        view! {
                                            <tr>
                                                <td>{s.endpoint.clone()}</td>
                                                <td>
                                                    {s.protocol.label()}
                                                </td>
                                                <td>{status_badge(s.status)}</td>
                                                <td>{s.remark.clone()}</td>
                                                <td class="small">{utc(s.created)}</td>
                                                <td>
                                                    <div class="row-actions">
                                                        {unconfirmed
                                                            .then(|| {
                                                                view! {
                                                                    <ActionForm action=resend>
                                                                        <input type="hidden" name="id" value=resend_id />
                                                                        <button type="submit" class="link-button">
                                                                            "Request confirmation"
                                                                        </button>
                                                                    </ActionForm>
                                                                }
                                                            })}
                                                        <button
                                                            type="button"
                                                            class="link-button danger"
                                                            id=format!("delete-{}", s.id)
                                                            aria-label=format!("Delete {}", s.endpoint)
                                                            on:click=move |_| removing.set(Some(asked.clone()))
                                                        >
                                                            "Delete"
                                                        </button>
                                                    </div>
                                                </td>
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

        <section class="panel">
            <h2>"Publish message"</h2>
            <p class="muted">"Sent to the confirmed endpoints only."</p>
            <ActionForm action=publish attr:class="form-grid">
                <input type="hidden" name="topic_id" prop:value=id />
                <TextField id="pub-subject" label="Subject" name="subject" maxlength="512" />
                <div class="field field-wide">
                    <label for="pub-message">"Message"</label>
                    <textarea id="pub-message" name="message" rows="3" required></textarea>
                </div>
                <SubmitButton label="Publish" pending=publish.pending() secondary=true />
            </ActionForm>
            <FormResult value=publish.value() success=|n: usize| {
                    format!(
                        "Sent to {}.",
                        crate::components::status::count(n as u64, "confirmed endpoint", "confirmed endpoints"),
                    )
                } />
        </section>
        {move || {
            removing
                .get()
                .map(|(id, endpoint)| {
                    view! {
                        <ConfirmDelete
                            title=format!("Delete subscription {endpoint}?")
                            message="This endpoint stops receiving the topic's messages and login codes.".to_owned()
                            on_confirm=move || {
                                remove.dispatch(DeleteSubscription { id: id.clone() });
                            }
                            on_close=move || removing.set(None)
                        />
                    }
                })
        }}
    }
}
