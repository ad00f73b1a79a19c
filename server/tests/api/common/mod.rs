//! The harness lives in the `testkit` crate (shared with the bench); the demo's sign-ins are
//! re-exported for the modules that still sign in as the demo's users.

pub use testkit::demo::*;
pub use testkit::*;
