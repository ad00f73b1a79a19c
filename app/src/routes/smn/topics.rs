//! Simple Message Notification → Topics.

use crate::{
    components::status::{ErrorPanel, Loading, PageHeader},
    functions::topics::list_topics,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TopicsPage() -> impl IntoView {
    let topics = Resource::new(|| (), |_| list_topics());
    view! {
        <Title text="Topics"/>
        <PageHeader title="Topics" crumbs=&["Simple Message Notification"]>
            <p>"A topic names who receives login verification codes: its confirmed SMS and email subscriptions."</p>
        </PageHeader>
        <section class="panel">
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match topics.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No topics yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table class="data-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Topic Name"</th>
                                            <th scope="col">"Display Name"</th>
                                            <th scope="col">"Topic URN"</th>
                                            <th scope="col">"Created"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {list.into_iter().map(|t| view! {
                                            <tr>
                                                <td>{t.name}</td>
                                                <td>{t.display_name}</td>
                                                <td class="mono small">{t.urn}</td>
                                                <td class="small">{t.created}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                        .into_any(),
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
