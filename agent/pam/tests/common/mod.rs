//! What the tests that run the real module under pamtester share: whether this machine can, and
//! where cargo put the module.

use std::path::PathBuf;

pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

/// Why this machine cannot run the test, if it cannot.
pub fn skip_reason() -> Option<String> {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    ["unshare", "pamtester", "mount"].iter().find(|t| !on_path(t)).map(|t| format!("{t} is not installed"))
}

/// The cdylib cargo built for this test run: in this test binary's `deps/` directory (fresh),
/// else the one `cargo build` put in target/<profile>/.
pub fn module_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps.join("libpam_hostguard.so"), deps.parent().unwrap().join("libpam_hostguard.so")]
        .into_iter()
        .find(|p| p.is_file())
        .expect("cargo builds libpam_hostguard.so with the tests")
}
