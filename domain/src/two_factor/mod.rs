//! The Two-Factor Authentication tab's rules: listing servers with their 2FA status, and saving
//! Enable / Disable / Change Topic as new revisions with durable jobs that hand them to the
//! agents after the apply delay. The per-server rules are `rollout`'s; these modules load and
//! store them, in batches.

mod jobs;
mod list;
mod reconcile;
mod save;
mod store;

pub use jobs::{fail_overdue, handed_over_since, run_due_jobs};
pub use list::{get, list, Effective, ListQuery, Row, Setting, MAX_LIMIT, SORTS};
pub use reconcile::reconcile;
pub use save::{cancel, retry, save, usable_topic, usable_topics, Action, BatchOutcome, Refused, SaveOutcome, Saved};
pub use store::{lock_servers, rollout_of, store};

/// The most servers one save may change (the console's batch, or the API's `host_id_list`).
pub const MAX_BATCH: usize = 10_000;
/// Rows per statement when writing batches: well under both databases' parameter limits.
const CHUNK: usize = 500;
