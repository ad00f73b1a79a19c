//! The console frame: top bar (product, region, account menu), the left navigation for the
//! caller's role, and the page in the middle.

use crate::{
    components::{
        list::{encode, options_with_all},
        status::ErrorPanel,
    },
    functions::{
        auth::{who_am_i, ConfirmSignInEnrolment, SignIn, SignInCode, SignOut},
        servers::{choose_region, list_regions},
    },
    models::{AppError, CurrentUser, Role},
};
use crate::components::resource::{resource, Resource};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, Redirect, A},
    hooks::{use_location, use_navigate, use_query_map},
};

/// Who is signed in, and the actions that change it. The user is fetched again after each.
#[derive(Clone, Copy)]
pub struct Auth {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub sign_in: ServerAction<SignIn>,
    /// The second step of a sign-in (a code from the console authenticator).
    pub sign_in_code: ServerAction<SignInCode>,
    /// Adding a console authenticator right after the password, which completes the sign-in.
    pub sign_in_enrol: ServerAction<ConfirmSignInEnrolment>,
    pub sign_out: ServerAction<SignOut>,
}

impl Auth {
    pub fn new() -> Self {
        let sign_in = ServerAction::<SignIn>::new();
        let sign_in_code = ServerAction::<SignInCode>::new();
        let sign_in_enrol = ServerAction::<ConfirmSignInEnrolment>::new();
        let sign_out = ServerAction::<SignOut>::new();
        let user = resource(
            move || {
                (sign_in.version().get(), sign_in_code.version().get(), sign_in_enrol.version().get(), sign_out.version().get())
            },
            |_| who_am_i(),
        );
        Self { user, sign_in, sign_in_code, sign_in_enrol, sign_out }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

/// The region chosen in the top bar; empty means all regions. Kept in a cookie across reloads
/// and carried as `?region=` in the URLs of pages that filter by it.
#[derive(Clone, Copy, Default)]
pub struct RegionState(pub RwSignal<String>);

/// The cookie that keeps the chosen region.
pub const REGION_COOKIE: &str = "hostguard_region";

/// Pages whose lists the region filters: their URLs carry it.
const REGION_PAGES: [&str; 1] = ["/hss/two-factor"];

/// The region a page opens with: the URL's, else the one kept from before. On the server the
/// cookie; in the browser, while hydrating, what the server drew (so both agree).
fn initial_region() -> String {
    if let Some(r) = use_query_map().read_untracked().get("region") {
        return r;
    }
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|p| p.headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok()).map(str::to_owned))
            .and_then(|c| {
                c.split(';').find_map(|kv| kv.trim().strip_prefix(REGION_COOKIE)?.strip_prefix('=').map(str::to_owned))
            })
            .filter(|r| domain::servers::REGIONS.iter().any(|(id, _)| id == r))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .query_selector(".console[data-region]")
            .ok()
            .flatten()
            .and_then(|e| e.get_attribute("data-region"))
            .unwrap_or_default()
    }
}

/// `path?query` with `region` set to `region` (or dropped when empty) and the page reset.
pub(crate) fn with_region(path: &str, query: &[(String, String)], region: &str) -> String {
    let mut parts: Vec<String> = query
        .iter()
        .filter(|(k, _)| k != "region" && k != "page")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if !region.is_empty() {
        parts.push(format!("region={}", encode(region)));
    }
    if parts.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let region = expect_context::<RegionState>().0;
    region.set(initial_region());
    let location = use_location();
    // Back here after signing in: the page asked for, with its query.
    let signin = move || {
        let search = location.search.get_untracked();
        let search = search.trim_start_matches('?');
        let here = if search.is_empty() {
            location.pathname.get_untracked()
        } else {
            format!("{}?{search}", location.pathname.get_untracked())
        };
        if here == "/" {
            "/signin".to_owned()
        } else {
            format!("/signin?next={}", encode(&here))
        }
    };
    view! {
        <div class="console" data-region=move || region.get()>
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
                            Ok(None) => view! { <Redirect path=signin() /> }.into_any(),
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
    let regions = resource(|| (), |_| list_regions());
    let location = use_location();
    let query = use_query_map();
    let navigate = use_navigate();
    let change = move |ev: leptos::ev::Event| {
        let chosen = event_target_value(&ev);
        region.set(chosen.clone());
        let path = location.pathname.get_untracked();
        if REGION_PAGES.contains(&path.as_str()) {
            let q: Vec<(String, String)> = query.get_untracked().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            navigate(&with_region(&path, &q, &chosen), Default::default());
        }
        // Kept for the next visit; a failure only means it is not remembered.
        leptos::task::spawn_local(async move {
            let _ = choose_region(chosen).await;
        });
    };
    view! {
        <Transition fallback=|| ()>
            {move || {
                let change = change.clone();
                Suspend::new(async move {
                    let options = regions.await.unwrap_or_default().into_iter().map(|r| (r.id, r.name)).collect();
                    view! {
                        <label class="region">
                            <span class="visually-hidden">"Region"</span>
                            <select on:change=change prop:value=move || region.get()>
                                {options_with_all("All regions", options, move || region.get())}
                            </select>
                        </label>
                    }
                })
            }}
        </Transition>
    }
}

/// Draws `children` only for `roles`; anyone else gets the refusal alone (and a 403), no forms.
/// Signed-out visitors are sent to sign in by the frame. The page is built once, when the server
/// draws it, so it must read its data inside Suspenses of its own (`Loaded`, `ListResults`, a
/// `Transition`): this one does not wait for them.
#[component]
pub fn ForRoles(roles: &'static [Role], children: ChildrenFn) -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <Transition fallback=|| ()>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(u)) if roles.contains(&u.role) => {
                            // The server's Suspense walks this closure more than once before it
                            // draws (each walk polls the future once, to find resource reads), and
                            // a page built in a walk is thrown away: its resources, made under
                            // new ids, would load after their owner is gone ("Internal"), while
                            // the browser builds the page once and reads the first ids. Waiting
                            // one turn here means no walk gets this far: the page is built once,
                            // for the draw, on both sides. Its own Suspenses wait for its data.
                            #[cfg(feature = "ssr")]
                            tokio::task::yield_now().await;
                            children().into_any()
                        }
                        Ok(Some(_)) => {
                            #[cfg(feature = "ssr")]
                            crate::models::set_status(http::StatusCode::FORBIDDEN);
                            view! {
                                <Title text="Not allowed" />
                                <header class="page-header">
                                    <h1>"Not allowed"</h1>
                                </header>
                                <ErrorPanel error=AppError::Forbidden />
                            }
                                .into_any()
                        }
                        _ => ().into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn AccountMenu(user: CurrentUser) -> impl IntoView {
    use crate::components::account_switcher::{AccountSwitcher, SignOutAll};
    use leptos::server_fn::ServerFn;
    // The other accounts on this device: the switcher fills it, "Sign out of all" shows by it.
    let others = RwSignal::new(Vec::new());
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
                {(user.role == Role::EndUser)
                    .then(|| view! { <AccountSwitcher user=user.clone() others /> })}
                <p>
                    <A href="/account/security">"Sign-in and security"</A>
                </p>
                // A plain form post: when another account takes over, the page loads anew as it.
                <form method="post" action=SignOut::PATH>
                    <button type="submit" class="button button-secondary">
                        "Sign out"
                    </button>
                </form>
                <SignOutAll others />
            </div>
        </details>
    }
}

#[component]
fn SideNav(role: Option<Role>) -> impl IntoView {
    let region = expect_context::<RegionState>().0;
    // The region filters the 2FA tab's list: its link carries the one chosen.
    let two_factor = move || with_region(REGION_PAGES[0], &[], &region.get());
    let links = match role {
        Some(Role::TenantAdmin) => view! {
            <div class="nav-group">
                <p class="nav-service">"Host Security"</p>
                <p class="nav-section">"Installation & Configuration"</p>
                <A href=two_factor>"Two-Factor Authentication"</A>
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
                <A href="/iam/users">"Users"</A>
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
        Some(Role::EndUser) => return view! { <PortalNav /> }.into_any(),
        None => ().into_any(),
    };
    view! {
        <nav class="sidenav" aria-label="Console">
            {links}
        </nav>
    }
    .into_any()
}

/// The portal's menu. People use the portal on their phones: there it folds behind a Menu
/// button (so the page, not the menu, fills the first screen) and folds again once a link is followed.
#[component]
fn PortalNav() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <nav class="sidenav sidenav-portal" class:open=move || open.get() aria-label="Console">
            <button
                type="button"
                class="menu-button"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                aria-controls="portal-menu"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span class="menu-icon" aria-hidden="true"></span>
                "Menu"
            </button>
            // A link followed folds the menu again (the click reaches here before the route changes).
            <div id="portal-menu" class="nav-group" on:click=move |_| open.set(false)>
                <p class="nav-service">"My sign-ins"</p>
                <A href="/portal" exact=true>
                    "My account"
                </A>
                <A href="/portal/methods">"Sign-in methods"</A>
                <A href="/portal/approvals">"Approvals"</A>
                <A href="/portal/history">"Sign-in history"</A>
                <A href="/portal/help">"Help"</A>
            </div>
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
