//! `TEST_LOG=1 cargo test …` shows the console's logs; cargo's test runner prints them only for
//! the tests that fail. Without `TEST_LOG` the tests log nothing.

use std::sync::Once;

static INIT: Once = Once::new();

/// Installs the subscriber once per test binary, the first time a console starts.
pub(crate) fn init() {
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_none_or(|v| v.is_empty() || v == "0") {
            return;
        }
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sea_orm=warn,sqlx=warn,tower_sessions=warn"));
        // Another subscriber set by the test itself wins; that is not an error.
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
}
