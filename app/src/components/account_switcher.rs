//! The account switcher in the portal's account menu: the other end-user accounts signed in on
//! this device, each a plain form post that switches to it (the browser then loads the portal
//! anew as that account), and "Add another account". Portal tabs left open on the old account
//! reload when the account changes, so none of them goes on acting with the new one's session
//! for a page drawn for the old one. With other accounts signed in, the menu also offers "Sign
//! out of all accounts" ([`SignOutAll`]).

use crate::{
    functions::device_accounts::{other_accounts, AddAccount, OtherAccount, SignOutAll as SignOutAllFn, SwitchAccount},
    models::CurrentUser,
};
use leptos::{prelude::*, server_fn::ServerFn};

#[component]
pub fn AccountSwitcher(user: CurrentUser, others: RwSignal<Vec<OtherAccount>>) -> impl IntoView {
    // Filled in the browser only, after hydration: the server draws the menu without the list,
    // so the two always agree, and the list costs the page's first load nothing.
    #[cfg(feature = "hydrate")]
    {
        watch_other_tabs(user.email.clone());
        Effect::new(move |_| {
            leptos::task::spawn_local(async move {
                if let Ok(list) = other_accounts().await {
                    others.set(list);
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (user, other_accounts, others);
    view! {
        <div class="account-switcher">
            {move || {
                let list = others.get();
                (!list.is_empty())
                    .then(|| {
                        view! {
                            <p class="account-switcher-title">"Switch to"</p>
                            <ul class="account-choices">
                                {list
                                    .into_iter()
                                    .map(|a| {
                                        let label = format!("Switch to {}", a.email);
                                        view! {
                                            <li>
                                                <form method="post" action=SwitchAccount::PATH>
                                                    <input type="hidden" name="handle" value=a.handle />
                                                    <button type="submit" class="account-choice" aria-label=label>
                                                        <span class="account-choice-email">{a.email}</span>
                                                        <span class="account-choice-tenant">
                                                            {a.tenant_name.unwrap_or_default()}
                                                        </span>
                                                    </button>
                                                </form>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })
            }}
            <form method="post" action=AddAccount::PATH>
                <button type="submit" class="button button-secondary">
                    "Add another account"
                </button>
            </form>
        </div>
    }
}

/// "Sign out of all accounts", shown while other accounts are signed in on this device (as the
/// account menu's "Sign out" then ends only this one). A plain form post: the browser lands on
/// the sign-in page with nothing of any account left.
#[component]
pub fn SignOutAll(others: RwSignal<Vec<OtherAccount>>) -> impl IntoView {
    move || {
        (!others.with(Vec::is_empty)).then(|| {
            view! {
                <form method="post" action=SignOutAllFn::PATH>
                    <button type="submit" class="button button-secondary">
                        "Sign out of all accounts"
                    </button>
                </form>
            }
        })
    }
}

/// Tells the other tabs of this site which account this one shows, and reloads this one when
/// another tab switched the browser to a different account.
#[cfg(feature = "hydrate")]
fn watch_other_tabs(mine: String) {
    use wasm_bindgen::{closure::Closure, JsCast};
    const KEY: &str = "hostguard-account";
    let Some(window) = web_sys::window() else { return };
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.set_item(KEY, &mine);
    }
    let on_storage = Closure::<dyn FnMut(web_sys::StorageEvent)>::new(move |ev: web_sys::StorageEvent| {
        if ev.key().as_deref() == Some(KEY) && ev.new_value().is_some_and(|v| v != mine) {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        }
    });
    let _ = window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
    // Lives as long as the page: the menu is drawn once per load.
    on_storage.forget();
}
