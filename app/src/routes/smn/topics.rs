//! Simple Message Notification → Topics: create, search, delete.

use crate::{
    components::{
        dialog::ConfirmDelete,
        form::{SubmitButton, TextField},
        status::{DataTable, FormResult, Loaded, PageHeader},
        urn::ShortUrn,
    },
    functions::topics::{list_topics, CreateTopic, DeleteTopic},
    models::utc,
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Form, A},
    hooks::use_query_map,
};

#[component]
pub fn TopicsPage() -> impl IntoView {
    let create = ServerAction::<CreateTopic>::new();
    let delete = ServerAction::<DeleteTopic>::new();
    // The topic whose Delete was clicked, (id, name), until the user confirms or cancels.
    let deleting = RwSignal::new(None::<(String, String)>);
    let query = use_query_map();
    let search = move || query.read().get("search").unwrap_or_default();
    let topics = resource(
        move || (search(), create.version().get(), delete.version().get()),
        |(search, _, _)| list_topics(search),
    );
    view! {
        <Title text="Topics" />
        <PageHeader title="Topics" crumbs=&["Simple Message Notification"]>
            <p>
                "A topic names who receives login verification codes: its confirmed SMS and email subscriptions. "
                "Its display name is the sender name of its emails."
            </p>
        </PageHeader>
        <section class="panel">
            <h2>"Create topic"</h2>
            <ActionForm action=create attr:class="form-grid">
                <TextField id="topic-name" label="Topic name" name="name" required=true maxlength="255" placeholder="login-codes">
                    "Letters, digits, - and _; up to 255 characters. It cannot be changed later."
                </TextField>
                <TextField id="topic-display" label="Display name" name="display_name" maxlength="192" placeholder="Acme Login Codes">
                    "Up to 192 characters. Shown as the sender of emails."
                </TextField>
                <SubmitButton label="Create topic" pending=create.pending() />
            </ActionForm>
            <FormResult value=create.value() success=|_| "Topic created.".to_owned() />
        </section>
        <section class="panel">
            <Form method="GET" action="">
                <div class="toolbar">
                    <label class="search">
                        <span class="visually-hidden">"Search topics"</span>
                        <input
                            type="search"
                            name="search"
                            placeholder="Search by name or display name"
                            prop:value=search
                        />
                    </label>
                    <button type="submit" class="button button-secondary">
                        "Search"
                    </button>
                </div>
            </Form>
            <FormResult value=delete.value() success=|_| "Topic deleted.".to_owned() />
            <Loaded
                resource=topics
                ok=move |value| match value {
                    list if list.is_empty() => view! { <p class="empty">"No topics."</p> }.into_any(),
                    list => {
                        view! {
                            <DataTable headers=&[
                                "Topic Name",
                                "Display Name",
                                "Topic URN",
                                "Subscriptions",
                                "Created",
                                "Operation",
                            ]>
                                {list
                                    .into_iter()
                                    .map(|t| {
                                        let label = format!("Delete topic {}", t.name);
                                        let asked = (t.id.to_string(), t.name.clone());
                                        let copy_label = format!("Copy the URN of topic {}", t.name);
                                        view! {
                                            <tr>
                                                <td>
                                                    <A href=format!("/smn/topics/{}", t.id)>{t.name.clone()}</A>
                                                </td>
                                                <td>{t.display_name}</td>
                                                <td>
                                                    <ShortUrn
                                                        urn=t.urn.clone()
                                                        label=copy_label
                                                    />
                                                </td>
                                                <td>{format!("{} confirmed of {}", t.confirmed, t.subscriptions)}</td>
                                                <td class="small">{utc(t.created)}</td>
                                                <td>
                                                    <div class="row-actions">
                                                        <A href=format!("/smn/topics/{}", t.id)>"Subscriptions"</A>
                                                        <button
                                                            type="button"
                                                            class="link-button danger"
                                                            id=format!("delete-{}", t.id)
                                                            aria-label=label
                                                            on:click=move |_| deleting.set(Some(asked.clone()))
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
        {move || {
            deleting
                .get()
                .map(|(id, name)| {
                    view! {
                        <ConfirmDelete
                            title=format!("Delete topic {name}?")
                            message="Its subscriptions are deleted with it, and servers whose 2FA is off forget it. This cannot be undone.".to_owned()
                            on_confirm=move || {
                                delete.dispatch(DeleteTopic { id: id.clone() });
                            }
                            on_close=move || deleting.set(None)
                        />
                    }
                })
        }}
    }
}
