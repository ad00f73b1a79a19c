//! The demo's published sign-ins, for the tests that are about the demo data (and the modules
//! not yet moved to their own fixtures). An app started with `Options { demo: false, .. }` has none.

pub const ACME_ADMIN: (&str, &str) = ("admin@acme.example", "acme-admin-demo-2026");
pub const GLOBEX_ADMIN: (&str, &str) = ("admin@globex.example", "globex-admin-demo-2026");
pub const ALICE: (&str, &str) = ("alice@acme.example", "alice-demo-2026");
pub const OPERATOR: (&str, &str) = ("ops@hostguard.example", "operator-demo-2026");
