//! The console's pages as lazy routes. A release build made with `--split` (see
//! `scripts/build-console.sh`) puts each page's view in its own wasm chunk, which the browser
//! fetches only when the page is shown; the first load carries the frame and one page, not
//! all of them. Without splitting (debug builds) they are ordinary routes.

use super::{
    admin::{outbox::OutboxPage, tenants::TenantsPage},
    audit::trail::AuditPage,
    home::HomePage,
    hss::{login_audit::LoginAuditPage, server_detail::ServerDetailPage, two_factor::TwoFactorPage},
    iam::{access_keys::AccessKeysPage, server_accounts::ServerAccountsPage},
    portal::{account::AccountPage, history::SignInHistoryPage, methods::SignInMethodsPage},
    smn::{
        links::{ConfirmPage, UnsubscribePage},
        topic_detail::TopicDetailPage,
        topics::TopicsPage,
    },
};
use crate::{components::layout::ForRoles, models::Role};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

// Who may open which pages; everyone else gets the refusal alone (`ForRoles`).
const TENANT_ADMIN: &[Role] = &[Role::TenantAdmin];
const OPERATOR: &[Role] = &[Role::Operator];
const ADMINS: &[Role] = &[Role::TenantAdmin, Role::Operator];
const END_USER: &[Role] = &[Role::EndUser];

macro_rules! lazy_pages {
    ($($route:ident => $page:ident $(for $roles:ident)?),* $(,)?) => {$(
        #[doc = concat!("The lazily loaded `", stringify!($page), "`.")]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                lazy_pages!(@view $page $($roles)?)
            }
        }
    )*};
    (@view $page:ident) => { view! { <$page /> }.into_any() };
    (@view $page:ident $roles:ident) => {
        view! {
            <ForRoles roles=$roles>
                <$page />
            </ForRoles>
        }
        .into_any()
    };
}

lazy_pages! {
    HomeRoute => HomePage,
    TwoFactorRoute => TwoFactorPage for TENANT_ADMIN,
    ServerDetailRoute => ServerDetailPage for TENANT_ADMIN,
    LoginAuditRoute => LoginAuditPage for TENANT_ADMIN,
    TopicsRoute => TopicsPage for TENANT_ADMIN,
    TopicDetailRoute => TopicDetailPage for TENANT_ADMIN,
    OutboxRoute => OutboxPage for OPERATOR,
    AuditRoute => AuditPage for ADMINS,
    AccessKeysRoute => AccessKeysPage for TENANT_ADMIN,
    ServerAccountsRoute => ServerAccountsPage for TENANT_ADMIN,
    TenantsRoute => TenantsPage for OPERATOR,
    AccountRoute => AccountPage for END_USER,
    SignInMethodsRoute => SignInMethodsPage for END_USER,
    SignInHistoryRoute => SignInHistoryPage for END_USER,
    ConfirmRoute => ConfirmPage,
    UnsubscribeRoute => UnsubscribePage,
}
