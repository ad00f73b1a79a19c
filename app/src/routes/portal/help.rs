//! The portal's Help: what people ask (the questions of Duo's and Microsoft's portal FAQs), each
//! answered in a few lines that end at the page or button that solves it. Each answer has an
//! anchor (`/portal/help#lost-phone`), so other pages, the login prompt's messages and
//! administrators can link straight to it. The answers are data ([`ANSWERS`]), drawn by one loop.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::status::PageHeader;

/// A link in an answer: where it goes, and its text.
pub(crate) struct Link {
    pub href: &'static str,
    pub text: &'static str,
}

/// One question and its answer.
pub(crate) struct Answer {
    /// The anchor (`#id`).
    pub id: &'static str,
    pub question: &'static str,
    /// The answer's paragraphs.
    pub paragraphs: &'static [&'static str],
    /// Things to check, as a list; an item may end with a link.
    pub checks: &'static [(&'static str, Option<Link>)],
    /// The places that solve it, as buttons: the first is the main one.
    pub actions: &'static [Link],
    /// A last hint pointing to another answer: its lead-in, and the link.
    pub see_also: Option<(&'static str, Link)>,
}

const APPROVALS: &str = "/portal/approvals";
const METHODS: &str = "/portal/methods";

/// The questions, in the order people tend to ask them.
pub(crate) const ANSWERS: &[Answer] = &[
    Answer {
        id: "new-phone",
        question: "I changed or reinstalled my phone",
        paragraphs: &[
            "An approval device's key lives only in the browser that made it, so a new phone, a reinstalled \
             browser or cleared site data needs registering again. Open Approvals on the new phone and register \
             it (you need a current code from your authenticator app or a recovery code), then remove the old \
             device from the list.",
            "Your authenticator app's codes move only if the app backed them up. If not, add it again under \
             Sign-in methods with a code from the old phone or a recovery code.",
        ],
        checks: &[],
        actions: &[
            Link { href: APPROVALS, text: "Register this device" },
            Link { href: METHODS, text: "Sign-in methods" },
        ],
        see_also: Some(("No code at all? See ", Link { href: "#lost-phone", text: "I forgot or lost my phone" })),
    },
    Answer {
        id: "push",
        question: "Push requests do not arrive",
        paragraphs: &[],
        checks: &[
            (
                "Is a device registered? Push is offered at the login prompt only to people with an approval \
                 device. ",
                Some(Link { href: APPROVALS, text: "Check Approvals" }),
            ),
            (
                "Are notifications on for this browser? Press Notify this browser on the Approvals page, and allow \
                 notifications for this site in the phone's settings (and for the browser app itself).",
                None,
            ),
            (
                "Are they paused? After three denials in a row, or This wasn't me, notifications stop for 20 \
                 minutes. Requests still appear on the Approvals page while it is open.",
                None,
            ),
            ("Too many? At most 3 pushes a minute and 10 an hour are sent; wait a little, or type a code.", None),
            (
                "Still nothing? Keep the Approvals page open: requests arrive there live, and the number to type \
                 is in the login prompt. Or type a code from your authenticator app, or get one below.",
                None,
            ),
        ],
        actions: &[Link { href: APPROVALS, text: "Open Approvals" }],
        see_also: None,
    },
    Answer {
        id: "lost-phone",
        question: "I forgot or lost my phone",
        paragraphs: &[
            "Left it at home: type one of your recovery codes at the login prompt (each works once), or, on \
             another of your approval devices such as this computer's browser, press Get a code on the Approvals \
             page and type that code.",
            "Lost or stolen: ask your administrator. On their Users page they remove the lost phone's sign-in \
             methods and send you a new invitation, with which you set up your new phone. Then remove the lost \
             phone from your approval devices, and tell them if you see logins you did not make.",
        ],
        checks: &[],
        actions: &[Link { href: APPROVALS, text: "Get a code" }, Link { href: METHODS, text: "Recovery codes" }],
        see_also: None,
    },
    Answer {
        id: "abroad",
        question: "I am abroad, or have no network",
        paragraphs: &[
            "Your authenticator app's codes need no network or roaming: they are made on the phone. Get a code \
             works from any approval device that has a connection (Wi-Fi is enough), and a code is valid for 10 \
             minutes. SMS passcodes and calls may not reach a phone abroad.",
        ],
        checks: &[],
        actions: &[
            Link { href: APPROVALS, text: "Get a code" },
            Link { href: METHODS, text: "Add an authenticator app" },
        ],
        see_also: None,
    },
    Answer {
        id: "unexpected",
        question: "I got a request I did not expect",
        paragraphs: &[
            "Do not approve it. Press This wasn't me on the Approvals page: the login is denied, your \
             administrators are told, and notifications pause for a while. Someone may know the password of a \
             server account of yours: look at your sign-in history and tell your administrator.",
        ],
        checks: &[],
        actions: &[
            Link { href: APPROVALS, text: "Report it on Approvals" },
            Link { href: "/portal/history", text: "Sign-in history" },
        ],
        see_also: None,
    },
    Answer {
        id: "several-accounts",
        question: "I have several accounts",
        paragraphs: &[
            "If you work for more than one organisation, each gives you its own account. Sign in to each once on \
             this device with Add another account in the account menu at the top, then switch between them there \
             without signing in again. Each account has its own approval devices, codes and history; register \
             this browser in each account you approve logins for. Signing out ends only the account shown.",
        ],
        checks: &[],
        actions: &[],
        see_also: None,
    },
];

#[component]
pub fn HelpPage() -> impl IntoView {
    view! {
        <Title text="Help" />
        <PageHeader title="Help">
            <p>"Answers to what people ask most, each with the place that solves it."</p>
        </PageHeader>
        <nav class="panel help-toc" aria-label="Questions">
            <ul>
                {ANSWERS
                    .iter()
                    .map(|a| view! { <li><a href=format!("#{}", a.id)>{a.question}</a></li> })
                    .collect_view()}
            </ul>
        </nav>
        {ANSWERS.iter().map(answer).collect_view()}
    }
}

/// One answer's card.
fn answer(a: &'static Answer) -> impl IntoView {
    let heading = format!("{}-h", a.id);
    let labelled_by = heading.clone();
    view! {
        <section class="panel help-answer" id=a.id aria-labelledby=labelled_by>
            <h2 id=heading>{a.question}</h2>
            {a.paragraphs.iter().map(|p| view! { <p>{*p}</p> }).collect_view()}
            {(!a.checks.is_empty())
                .then(|| {
                    view! {
                        <ul>
                            {a
                                .checks
                                .iter()
                                .map(|(text, link)| {
                                    view! {
                                        <li>
                                            {*text}
                                            {link.as_ref().map(|l| view! { <A href=l.href>{l.text}</A> })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
            {(!a.actions.is_empty())
                .then(|| {
                    view! {
                        <p class="help-actions">
                            {a
                                .actions
                                .iter()
                                .enumerate()
                                .map(|(i, l)| {
                                    let class = if i == 0 { "button button-primary" } else { "button button-secondary" };
                                    view! { <A href=l.href attr:class=class>{l.text}</A> }
                                })
                                .collect_view()}
                        </p>
                    }
                })}
            {a
                .see_also
                .as_ref()
                .map(|(lead, l)| view! { <p class="hint">{*lead} <a href=l.href>{l.text}</a> "."</p> })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::ANSWERS;

    #[test]
    fn anchors_are_unique_and_plain() {
        let mut ids: Vec<&str> = ANSWERS.iter().map(|a| a.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ANSWERS.len());
        assert!(ids.iter().all(|id| id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
    }

    #[test]
    fn every_answer_says_something_and_links_within_the_page_resolve() {
        for a in ANSWERS {
            assert!(!a.paragraphs.is_empty() || !a.checks.is_empty(), "{} has no answer", a.id);
            let links = a
                .checks
                .iter()
                .filter_map(|(_, l)| l.as_ref())
                .chain(a.actions.iter())
                .chain(a.see_also.as_ref().map(|(_, l)| l));
            for l in links {
                match l.href.strip_prefix('#') {
                    Some(anchor) => assert!(ANSWERS.iter().any(|b| b.id == anchor), "{} links to #{anchor}", a.id),
                    None => assert!(l.href.starts_with("/portal"), "{} links out of the portal: {}", a.id, l.href),
                }
            }
        }
    }
}
