//! Public pages behind the links in messages: confirm a subscription, unsubscribe.
//! They need no sign-in; the token in the link is the proof. Opening a link (a GET, which mail
//! scanners and chat-app link previews also do) only shows what the button will do; the
//! button, a plain form post that works before the wasm has loaded, does it.

use crate::{
    components::layout::Brand,
    functions::topics::{preview_link, ConfirmSubscription, Unsubscribe},
    models::{AppError, LinkOutcome},
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use std::sync::Arc;

fn topic_of(o: &LinkOutcome) -> String {
    if o.topic_display_name.is_empty() || o.topic_display_name == o.topic_name {
        o.topic_name.clone()
    } else {
        format!("{} ({})", o.topic_name, o.topic_display_name)
    }
}

/// The texts of one kind of link.
struct Texts {
    title: &'static str,
    /// What the button will do, before it is pressed.
    ask: fn(&LinkOutcome) -> String,
    /// The state is reached (on opening the link again, or after a plain form post).
    done: fn(&LinkOutcome) -> String,
    /// After the button, from the app.
    now_done: &'static str,
    was_done: &'static str,
}

fn problem(e: AppError) -> AnyView {
    match e {
        AppError::NotFound(_) => view! {
            <h1>"This link is not valid"</h1>
            <p role="alert">
                "It may have been copied incompletely, or replaced by a newer message. Use the link in the newest message you received."
            </p>
        }
        .into_any(),
        e => view! {
            <h1>"This link cannot be used"</h1>
            <p role="alert">{e.to_string()}</p>
        }
        .into_any(),
    }
}

/// The button's form for a token.
type Form = Arc<dyn Fn(String) -> AnyView + Send + Sync>;

/// A form posting `token` to the server function of `$action`, with one button. (A macro: the
/// bounds `<ActionForm>` puts on a server function are long to spell out in a generic fn.)
macro_rules! link_form {
    ($action:ident, $button:literal) => {{
        let form: Form = Arc::new(move |token: String| {
            view! {
                <ActionForm action=$action>
                    <input type="hidden" name="token" value=token />
                    <button type="submit" class="button button-primary" disabled=move || $action.pending().get()>
                        $button
                    </button>
                </ActionForm>
            }
            .into_any()
        });
        form
    }};
}

#[component]
fn LinkPage(
    kind: &'static str,
    texts: Texts,
    result: Signal<Option<Result<LinkOutcome, AppError>>>,
    form: Form,
) -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let preview = resource(token, move |t| preview_link(kind.to_owned(), t));
    let Texts { title, ask, done, now_done, was_done } = texts;
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
                    {move || {
                        let form = form.clone();
                        // Read before awaiting, so the page follows the button's result.
                        let pressed = result.get();
                        Suspend::new(async move {
                            let o = match preview.await {
                                Ok(o) => o,
                                Err(e) => return problem(e),
                            };
                            match pressed {
                                Some(Ok(r)) => {
                                    return view! {
                                        <h1>{title}</h1>
                                        <p class="link-outcome" role="status">
                                            {if r.already { was_done } else { now_done }}
                                        </p>
                                        <p class="muted">{done(&r)}</p>
                                    }
                                        .into_any();
                                }
                                Some(Err(e)) => return problem(e),
                                None => {}
                            }
                            if o.already {
                                return view! {
                                    <h1>{title}</h1>
                                    <p class="link-outcome" role="status">
                                        {done(&o)}
                                    </p>
                                }
                                    .into_any();
                            }
                            view! {
                                <h1>{title}</h1>
                                <p class="link-question">{ask(&o)}</p>
                                {form(token())}
                            }
                                .into_any()
                        })
                    }}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
pub fn ConfirmPage() -> impl IntoView {
    let action = ServerAction::<ConfirmSubscription>::new();
    let texts = Texts {
        title: "Confirm subscription",
        ask: |o| {
            format!(
                "Confirm that {} receives messages of topic {}, such as login verification codes.",
                o.endpoint,
                topic_of(o)
            )
        },
        done: |o| {
            format!(
                "Your subscription is confirmed: {} receives messages of topic {}, such as login verification codes.",
                o.endpoint,
                topic_of(o)
            )
        },
        now_done: "Your subscription is confirmed. From now on you will receive this topic's messages.",
        was_done: "This subscription was already confirmed. Nothing changed.",
    };
    view! { <LinkPage kind="confirm" texts result=Signal::derive(move || action.value().get()) form=link_form!(action, "Confirm subscription") /> }
}

#[component]
pub fn UnsubscribePage() -> impl IntoView {
    let action = ServerAction::<Unsubscribe>::new();
    let texts = Texts {
        title: "Unsubscribe",
        ask: |o| {
            format!(
                "Stop all messages of topic {} to {}? If the topic sends login verification codes, you will no longer receive them.",
                topic_of(o),
                o.endpoint
            )
        },
        done: |o| format!("You are unsubscribed: {} receives no more messages from topic {}.", o.endpoint, topic_of(o)),
        now_done: "You are unsubscribed and will receive no more messages from this topic.",
        was_done: "You had already unsubscribed. Nothing changed.",
    };
    view! { <LinkPage kind="unsubscribe" texts result=Signal::derive(move || action.value().get()) form=link_form!(action, "Unsubscribe") /> }
}
