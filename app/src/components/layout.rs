//! The console frame: top bar (product, region, account menu), the left navigation for the
//! caller's role, and the page in the middle.

use crate::{
    functions::{
        auth::{who_am_i, SignIn, SignOut},
        servers::list_regions,
    },
    models::{AppError, CurrentUser, Role},
};
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

/// Who is signed in, and the actions that change it. The user is fetched again after each.
#[derive(Clone, Copy)]
pub struct Auth {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub sign_in: ServerAction<SignIn>,
    pub sign_out: ServerAction<SignOut>,
}

impl Auth {
    pub fn new() -> Self {
        let sign_in = ServerAction::<SignIn>::new();
        let sign_out = ServerAction::<SignOut>::new();
        let user = Resource::new(move || (sign_in.version().get(), sign_out.version().get()), |_| who_am_i());
        Self { user, sign_in, sign_out }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

/// The region chosen in the top bar; empty means all regions.
#[derive(Clone, Copy, Default)]
pub struct RegionState(pub RwSignal<String>);

#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <div class="console">
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <header class="topbar">
                <a class="brand" href="/">
                    <Brand />
                </a>
                <RegionSelect />
                <div class="topbar-spacer"></div>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(user)) => view! { <AccountMenu user /> }.into_any(),
                            Ok(None) => view! { <Redirect path="/signin" /> }.into_any(),
                            Err(_) => ().into_any(),
                        }
                    })}
                </Transition>
            </header>
            <div class="frame">
                <Transition fallback=|| {
                    view! { <nav class="sidenav" aria-label="Console"></nav> }
                }>
                    {move || Suspend::new(async move {
                        let role = auth.user.await.ok().flatten().map(|u| u.role);
                        view! { <SideNav role /> }
                    })}
                </Transition>
                <main id="main" class="content" tabindex="-1">
                    <Outlet />
                </main>
            </div>
        </div>
    }
}

#[component]
fn RegionSelect() -> impl IntoView {
    let region = expect_context::<RegionState>().0;
    let regions = Resource::new(|| (), |_| list_regions());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let options = regions.await.unwrap_or_default();
                view! {
                    <label class="region">
                        <span class="visually-hidden">"Region"</span>
                        <select on:change=move |ev| region.set(event_target_value(&ev)) prop:value=move || region.get()>
                            <option value="">"All regions"</option>
                            {options.into_iter().map(|r| view! { <option value=r.id>{r.name}</option> }).collect_view()}
                        </select>
                    </label>
                }
            })}
        </Transition>
    }
}

#[component]
fn AccountMenu(user: CurrentUser) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let initials: String = user.display_name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
    view! {
        <details class="account-menu">
            <summary>
                <span class="avatar" aria-hidden="true">
                    {initials}
                </span>
                <span class="account-name">{user.display_name.clone()}</span>
            </summary>
            <div class="account-panel">
                <p class="account-email">{user.email.clone()}</p>
                <p class="account-role">{user.role.label()} {user.tenant_name.clone().map(|t| format!(" · {t}"))}</p>
                <ActionForm action=auth.sign_out>
                    <button type="submit" class="button button-secondary">
                        "Sign out"
                    </button>
                </ActionForm>
            </div>
        </details>
    }
}

#[component]
fn SideNav(role: Option<Role>) -> impl IntoView {
    let links = match role {
        Some(Role::TenantAdmin) => view! {
            <div class="nav-group">
                <p class="nav-service">"Host Security"</p>
                <p class="nav-section">"Installation & Configuration"</p>
                <A href="/hss/two-factor">"Two-Factor Authentication"</A>
                <p class="nav-section">"Intrusion Detection"</p>
                <A href="/hss/login-audit">"Login audit"</A>
            </div>
            <div class="nav-group">
                <p class="nav-service">"Simple Message Notification"</p>
                <A href="/smn/topics">"Topics"</A>
            </div>
            <div class="nav-group">
                <p class="nav-service">"Management"</p>
                <A href="/audit">"Audit trail"</A>
            </div>
            <div class="nav-group">
                <p class="nav-service">"Identity and Access Management"</p>
                <A href="/iam/server-accounts">"Server accounts"</A>
            </div>
            <div class="nav-group">
                <p class="nav-service">"My Credentials"</p>
                <A href="/iam/access-keys">"Access Keys"</A>
            </div>
        }
        .into_any(),
        Some(Role::Operator) => view! {
            <div class="nav-group">
                <p class="nav-service">"Administration"</p>
                <A href="/admin/tenants">"Tenant accounts"</A>
                <A href="/admin/outbox">"Outbox"</A>
                <A href="/audit">"Audit trail"</A>
            </div>
        }
        .into_any(),
        Some(Role::EndUser) => view! {
            <div class="nav-group">
                <p class="nav-service">"My sign-ins"</p>
                <A href="/portal" exact=true>
                    "My account"
                </A>
                <A href="/portal/methods">"Sign-in methods"</A>
                <A href="/portal/history">"Sign-in history"</A>
            </div>
        }
        .into_any(),
        None => ().into_any(),
    };
    view! {
        <nav class="sidenav" aria-label="Console">
            {links}
        </nav>
    }
}

/// The product's mark and name.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <span class="brand-mark" aria-hidden="true">
            "HG"
        </span>
        <span class="brand-name">"HostGuard"</span>
    }
}
