//! A newly made agent install command, shown once (the 2FA tab's install and a server's re-install).

use crate::models::{AppError, InstallCommand};
use leptos::prelude::*;

#[component]
pub fn NewInstallCommand(
    /// The action's latest result (`None` until it has run).
    result: impl Fn() -> Option<Result<InstallCommand, AppError>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        result().map(|r| match r {
            Ok(c) => view! {
                <pre class="mono install-command">{c.command}</pre>
                <p class="muted small">{format!("Valid until {}. Shown once.", c.expires)}</p>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
        })
    }
}
