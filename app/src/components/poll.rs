//! Looking again every few seconds, for pages whose data changes on its own (a rollout's
//! status, a subscription confirmed from a phone, a message delivered).

use leptos::prelude::*;
use std::time::Duration;

/// Calls `tick` every `every` while the calling component is mounted, in the browser only.
/// The interval is cleared with the component, so leaving the page stops it and coming back
/// starts one, not another.
pub fn poll_every(every: Duration, tick: impl Fn() + Clone + 'static) {
    // An effect, because intervals exist only in the browser (effects do not run on the server).
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(tick.clone(), every) {
            on_cleanup(move || handle.clear());
        }
    });
}
