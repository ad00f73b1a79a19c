//! The self-service portal's home: the end user's account.

use crate::{
    components::status::{Loaded, PageHeader},
    functions::portal::my_account,
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn AccountPage() -> impl IntoView {
    let account = resource(|| (), |_| my_account());
    view! {
        <Title text="My account" />
        <PageHeader title="My account">
            <p>"The account you use to approve logins to your organisation's servers."</p>
            <p>
                "To log in to a server that asks for a verification code, add an authenticator app or a phone under "
                <A href="/portal/methods">"Sign-in methods"</A>
                "."
            </p>
        </PageHeader>
        <section class="panel">
            <Loaded
                resource=account
                ok=move |me| {
                    view! {
                        <dl class="facts">
                            <dt>"Name"</dt>
                            <dd>{me.display_name}</dd>
                            <dt>"Email"</dt>
                            <dd>{me.email}</dd>
                            <dt>"Organisation"</dt>
                            <dd>{me.tenant_name.unwrap_or_default()}</dd>
                        </dl>
                    }
                }
            />
        </section>
    }
}
