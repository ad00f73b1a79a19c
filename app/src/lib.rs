//! The HostGuard console UI (Leptos): pages in `routes/`, shared pieces in `components/`, server
//! calls in `functions/`, the types they exchange in `models/`.

// Views are type-erased in every build (`always-erase-components` in Cargo.toml). A build
// without that keeps every view's full type, and the deepest pages nest past the default query
// depth of 128 ("queries overflow the depth limit").
#![recursion_limit = "512"]

pub mod components;
pub mod functions;
pub mod models;
pub mod routes;

use components::{
    hydration::HydrationAfterPaint,
    layout::{Auth, ConsoleLayout, ForRoles, RegionState},
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};
use models::Role;
use routes::{
    account_settings::AccountSettingsPage,
    password_reset::{ForgotPasswordPage, ResetPasswordPage},
    admin::{outbox::OutboxPage, tenants::TenantsPage},
    audit::trail::AuditPage,
    home::HomePage,
    hss::login_audit::LoginAuditPage,
    hss::server_detail::ServerDetailPage,
    hss::two_factor::TwoFactorPage,
    iam::{access_keys::AccessKeysPage, server_accounts::ServerAccountsPage, users::UsersPage},
    invite::InvitePage,
    not_found::NotFound,
    portal::{
        account::AccountPage, approvals::ApprovalsPage, help::HelpPage, history::SignInHistoryPage,
        methods::SignInMethodsPage,
    },
    signin::SignInPage,
    signin_code::{SignInCodePage, SignInEnrolPage},
    smn::topics::TopicsPage,
    smn::{
        links::{ConfirmPage, UnsubscribePage},
        topic_detail::TopicDetailPage,
    },
};

// Who may open which pages; everyone else gets the refusal alone.
const TENANT_ADMIN: &[Role] = &[Role::TenantAdmin];
const OPERATOR: &[Role] = &[Role::Operator];
const ADMINS: &[Role] = &[Role::TenantAdmin, Role::Operator];
const END_USER: &[Role] = &[Role::EndUser];

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // The CSS by its hashed name, which browsers keep for a year.
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationAfterPaint options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(Auth::new());
    provide_context(RegionState::default());
    // Marks the page once the wasm has taken over, for people and tests who need to know.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title formatter=|text: String| {
            if text.is_empty() { "HostGuard".to_owned() } else { format!("{text} · HostGuard") }
        } />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/signin") view=SignInPage ssr=SsrMode::Async />
                <Route path=path!("/signin/code") view=SignInCodePage ssr=SsrMode::Async />
                <Route path=path!("/signin/enrol") view=SignInEnrolPage ssr=SsrMode::Async />
                <Route path=path!("/smn/confirm") view=ConfirmPage ssr=SsrMode::Async />
                <Route path=path!("/smn/unsubscribe") view=UnsubscribePage ssr=SsrMode::Async />
                <Route path=path!("/invite") view=InvitePage ssr=SsrMode::Async />
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=ConsoleLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("account/security") view=AccountSettingsPage ssr=SsrMode::Async />
                    <Route
                        path=path!("hss/two-factor")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <TwoFactorPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("hss/servers/:id")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <ServerDetailPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("hss/login-audit")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <LoginAuditPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("smn/topics")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <TopicsPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("smn/topics/:id")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <TopicDetailPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("admin/outbox")
                        view=|| view! {
                            <ForRoles roles=OPERATOR>
                                <OutboxPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("audit")
                        view=|| view! {
                            <ForRoles roles=ADMINS>
                                <AuditPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("iam/access-keys")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <AccessKeysPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("iam/users")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <UsersPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("iam/server-accounts")
                        view=|| view! {
                            <ForRoles roles=TENANT_ADMIN>
                                <ServerAccountsPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("admin/tenants")
                        view=|| view! {
                            <ForRoles roles=OPERATOR>
                                <TenantsPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("portal")
                        view=|| view! {
                            <ForRoles roles=END_USER>
                                <AccountPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    // Checks the role itself, inside: its data are made before `ForRoles`.
                    <Route path=path!("portal/methods") view=SignInMethodsPage ssr=SsrMode::Async />
                    <Route
                        path=path!("portal/approvals")
                        view=|| view! {
                            <ForRoles roles=END_USER>
                                <ApprovalsPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("portal/history")
                        view=|| view! {
                            <ForRoles roles=END_USER>
                                <SignInHistoryPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("portal/help")
                        view=|| view! {
                            <ForRoles roles=END_USER>
                                <HelpPage />
                            </ForRoles>
                        }
                        ssr=SsrMode::Async
                    />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
