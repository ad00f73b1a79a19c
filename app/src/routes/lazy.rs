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
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        #[doc = concat!("The lazily loaded `", stringify!($page), "`.")]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    HomeRoute => HomePage,
    TwoFactorRoute => TwoFactorPage,
    ServerDetailRoute => ServerDetailPage,
    LoginAuditRoute => LoginAuditPage,
    TopicsRoute => TopicsPage,
    TopicDetailRoute => TopicDetailPage,
    OutboxRoute => OutboxPage,
    AuditRoute => AuditPage,
    AccessKeysRoute => AccessKeysPage,
    ServerAccountsRoute => ServerAccountsPage,
    TenantsRoute => TenantsPage,
    AccountRoute => AccountPage,
    SignInMethodsRoute => SignInMethodsPage,
    SignInHistoryRoute => SignInHistoryPage,
    ConfirmRoute => ConfirmPage,
    UnsubscribeRoute => UnsubscribePage,
}
