//! The portal's Help: what people ask (the questions of Duo's and Microsoft's portal FAQs), each
//! answered in a few lines that end at the page or button that solves it. Each answer has an
//! anchor (`/portal/help#lost-phone`), so other pages, the login prompt's messages and
//! administrators can link straight to it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::status::PageHeader;

/// The questions, in the order people tend to ask them: anchor and question.
pub(crate) const QUESTIONS: &[(&str, &str)] = &[
    ("new-phone", "I changed or reinstalled my phone"),
    ("push", "Push requests do not arrive"),
    ("lost-phone", "I forgot or lost my phone"),
    ("abroad", "I am abroad, or have no network"),
    ("unexpected", "I got a request I did not expect"),
    ("several-accounts", "I have several accounts"),
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
                {QUESTIONS
                    .iter()
                    .map(|(id, q)| view! { <li><a href=format!("#{id}")>{*q}</a></li> })
                    .collect_view()}
            </ul>
        </nav>
        <section class="panel help-answer" id="new-phone" aria-labelledby="new-phone-h">
            <h2 id="new-phone-h">"I changed or reinstalled my phone"</h2>
            <p>
                "An approval device's key lives only in the browser that made it, so a new phone, a reinstalled "
                "browser or cleared site data needs registering again. Open Approvals on the new phone and register "
                "it (you need a current code from your authenticator app or a recovery code), then remove the old "
                "device from the list."
            </p>
            <p>
                "Your authenticator app's codes move only if the app backed them up. If not, add it again under "
                "Sign-in methods with a code from the old phone or a recovery code."
            </p>
            <p class="help-actions">
                <A href="/portal/approvals" attr:class="button button-primary">"Register this device"</A>
                <A href="/portal/methods" attr:class="button button-secondary">"Sign-in methods"</A>
            </p>
            <p class="hint">"No code at all? See " <a href="#lost-phone">"I forgot or lost my phone"</a> "."</p>
        </section>
        <section class="panel help-answer" id="push" aria-labelledby="push-h">
            <h2 id="push-h">"Push requests do not arrive"</h2>
            <ul>
                <li>
                    "Is a device registered? Push is offered at the login prompt only to people with an approval "
                    "device. "
                    <A href="/portal/approvals">"Check Approvals"</A>
                </li>
                <li>
                    "Are notifications on for this browser? Press Notify this browser on the Approvals page, and allow "
                    "notifications for this site in the phone's settings (and for the browser app itself)."
                </li>
                <li>
                    "Are they paused? After three denials in a row, or This wasn't me, notifications stop for 20 minutes. "
                    "Requests still appear on the Approvals page while it is open."
                </li>
                <li>
                    "Too many? At most 3 pushes a minute and 10 an hour are sent; wait a little, or type a code."
                </li>
                <li>
                    "Still nothing? Keep the Approvals page open: requests arrive there live, and the number to type is "
                    "in the login prompt. Or type a code from your authenticator app, or get one below."
                </li>
            </ul>
            <p class="help-actions">
                <A href="/portal/approvals" attr:class="button button-primary">"Open Approvals"</A>
            </p>
        </section>
        <section class="panel help-answer" id="lost-phone" aria-labelledby="lost-phone-h">
            <h2 id="lost-phone-h">"I forgot or lost my phone"</h2>
            <p>
                "Left it at home: type one of your recovery codes at the login prompt (each works once), or, on another "
                "of your approval devices such as this computer's browser, press Get a code on the Approvals page and "
                "type that code."
            </p>
            <p>
                "Lost or stolen: ask your administrator. On their Users page they remove the lost phone's sign-in "
                "methods and send you a new invitation, with which you set up your new phone. Then remove the lost "
                "phone from your approval devices, and tell them if you see logins you did not make."
            </p>
            <p class="help-actions">
                <A href="/portal/approvals" attr:class="button button-primary">"Get a code"</A>
                <A href="/portal/methods" attr:class="button button-secondary">"Recovery codes"</A>
            </p>
        </section>
        <section class="panel help-answer" id="abroad" aria-labelledby="abroad-h">
            <h2 id="abroad-h">"I am abroad, or have no network"</h2>
            <p>
                "Your authenticator app's codes need no network or roaming: they are made on the phone. Get a code "
                "works from any approval device that has a connection (Wi-Fi is enough), and a code is valid for 10 "
                "minutes. SMS passcodes and calls may not reach a phone abroad."
            </p>
            <p class="help-actions">
                <A href="/portal/approvals" attr:class="button button-primary">"Get a code"</A>
                <A href="/portal/methods" attr:class="button button-secondary">"Add an authenticator app"</A>
            </p>
        </section>
        <section class="panel help-answer" id="unexpected" aria-labelledby="unexpected-h">
            <h2 id="unexpected-h">"I got a request I did not expect"</h2>
            <p>
                "Do not approve it. Press This wasn't me on the Approvals page: the login is denied, your "
                "administrators are told, and notifications pause for a while. Someone may know the password of a "
                "server account of yours: look at your sign-in history and tell your administrator."
            </p>
            <p class="help-actions">
                <A href="/portal/approvals" attr:class="button button-primary">"Report it on Approvals"</A>
                <A href="/portal/history" attr:class="button button-secondary">"Sign-in history"</A>
            </p>
        </section>
        <section class="panel help-answer" id="several-accounts" aria-labelledby="several-accounts-h">
            <h2 id="several-accounts-h">"I have several accounts"</h2>
            <p>
                "If you work for more than one organisation, each gives you its own account. Sign in to each once on "
                "this device with Add another account in the account menu at the top, then switch between them there "
                "without signing in again. Each account has its own approval devices, codes and history; register "
                "this browser in each account you approve logins for. Signing out ends only the account shown."
            </p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn anchors_are_unique_and_plain() {
        let mut ids: Vec<&str> = super::QUESTIONS.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), super::QUESTIONS.len());
        assert!(ids.iter().all(|id| id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
    }
}
