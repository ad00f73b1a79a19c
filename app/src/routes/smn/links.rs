//! Public pages behind the links in messages: confirm a subscription, unsubscribe.
//! They need no sign-in; the token in the link is the proof.

use crate::{
    components::layout::Brand,
    functions::topics::{confirm_subscription, unsubscribe},
    models::{AppError, LinkOutcome},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn what(o: &LinkOutcome) -> String {
    let kind = if o.protocol == "sms" { "The phone number" } else { "The email address" };
    let topic = if o.topic_display_name.is_empty() {
        o.topic_name.clone()
    } else {
        format!("{} ({})", o.topic_display_name, o.topic_name)
    };
    format!("{kind} {} · topic {topic}", o.endpoint)
}

#[component]
fn LinkPage(
    title: &'static str,
    result: Resource<Result<LinkOutcome, AppError>>,
    done: fn(&LinkOutcome) -> String,
) -> impl IntoView {
    view! {
        <Title text=title />
        <main class="standalone">
            <div class="card">
                <div class="signin-brand">
                    <Brand />
                </div>
                <Suspense fallback=|| {
                    view! { <p class="loading">"Checking the link…"</p> }
                }>
                    {move || Suspend::new(async move {
                        match result.await {
                            Ok(o) => {
                                view! {
                                    <h1>{title}</h1>
                                    <p class="link-outcome" role="status">
                                        {done(&o)}
                                    </p>
                                    <p class="muted">{what(&o)}</p>
                                }
                                    .into_any()
                            }
                            Err(AppError::NotFound(_)) => {
                                view! {
                                    <h1>"This link is not valid"</h1>
                                    <p role="alert">
                                        "It may have been copied incompletely, or replaced by a newer message. Use the link in the newest message you received."
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(e) => {
                                view! {
                                    <h1>"This link cannot be used"</h1>
                                    <p role="alert">{e.to_string()}</p>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
pub fn ConfirmPage() -> impl IntoView {
    let query = use_query_map();
    let result = Resource::new(move || query.read().get("token").unwrap_or_default(), confirm_subscription);
    view! {
        <LinkPage
            title="Subscription confirmed"
            result
            done=|o| {
                if o.already {
                    "This subscription was already confirmed. Nothing changed.".to_owned()
                } else {
                    "Your subscription is confirmed. From now on you will receive this topic's messages, such as login verification codes."
                        .to_owned()
                }
            }
        />
    }
}

#[component]
pub fn UnsubscribePage() -> impl IntoView {
    let query = use_query_map();
    let result = Resource::new(move || query.read().get("token").unwrap_or_default(), unsubscribe);
    view! {
        <LinkPage
            title="Unsubscribed"
            result
            done=|o| {
                if o.already {
                    "You had already unsubscribed. Nothing changed.".to_owned()
                } else {
                    "You are unsubscribed and will receive no more messages from this topic.".to_owned()
                }
            }
        />
    }
}
