//! A newly made agent install command, shown once (the 2FA tab's install and a server's re-install).

use crate::{
    functions::agents::AGENT_PACKAGE,
    models::{AppError, InstallCommand},
};
use leptos::prelude::*;

#[component]
pub fn NewInstallCommand(
    /// The action's latest result (`None` until it has run).
    result: impl Fn() -> Option<Result<InstallCommand, AppError>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        result().map(|r| match r {
            Ok(c) => view! {
                <ol class="install-steps">
                    <li>
                        "Get the agent package " <code>{AGENT_PACKAGE}</code>
                        ": build it on a Debian or Ubuntu machine with " <code>"scripts/build-deb.sh"</code>
                        " from the HostGuard sources (it is written to " <code>"target/debian/"</code>
                        "), and copy it to the server."
                    </li>
                    <li>"On the server, in the folder that holds the package, run as a user who may use sudo:"</li>
                </ol>
                <pre class="mono install-command" aria-label="Install command">
                    {c.command}
                </pre>
                <p class="muted small">{format!("Valid until {}. Shown once.", crate::models::utc(c.expires))}</p>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
        })
    }
}
