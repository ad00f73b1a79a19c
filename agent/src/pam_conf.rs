//! The PAM module's settings file, `/etc/hostguard/pam.conf`, and its one writer. The module
//! reads one thing from it, the fail mode it applies when the agent cannot be asked
//! (`pam_hostguard::logic::fail_mode_from`), so that is all the file holds. An apply writes it
//! when 2FA goes on and removes it when 2FA goes off; in between, each login policy fetched keeps
//! its fail mode current.

use std::io;
use std::path::Path;

use proto::login::FailMode;

use crate::files::{read_optional, write_atomic};

/// Where the file is, under the agent's root (the PAM line names it as `config=/etc/…`).
pub const PAM_CONF: &str = "etc/hostguard/pam.conf";
/// Root's alone: it decides whether logins get in while the agent is away.
pub const MODE: u32 = 0o600;

/// The whole file for a fail mode.
pub fn render(fail_mode: FailMode) -> String {
    format!("# Managed by HostGuard. Changes are overwritten.\nfail_mode={fail_mode}\n")
}

/// Brings the fail mode of the file at `path` to `fail_mode`, if 2FA is on (the file exists);
/// with 2FA off there is no file, and none is made.
pub fn set_fail_mode(path: &Path, fail_mode: FailMode) -> io::Result<()> {
    let wanted = render(fail_mode);
    match read_optional(path)? {
        Some(bytes) if bytes != wanted.as_bytes() => write_atomic(path, wanted.as_bytes(), MODE),
        Some(_) | None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_reads_the_fail_mode_written() {
        for mode in [FailMode::Secure, FailMode::Safe] {
            assert_eq!(pam_hostguard::logic::fail_mode_from(&render(mode)), mode);
        }
        assert!(crate::apply::PAM_LINE.contains(&format!("config=/{PAM_CONF} ")), "the PAM line names this file");
    }

    #[test]
    fn the_fail_mode_follows_the_policy_while_2fa_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("pam.conf");
        set_fail_mode(&conf, FailMode::Safe).unwrap();
        assert!(!conf.exists(), "no file while 2FA is off");
        // A file of an older agent, with keys nothing reads, is replaced whole.
        std::fs::write(&conf, "console_url=https://c\nfail_mode=secure\nrevision=3\n").unwrap();
        set_fail_mode(&conf, FailMode::Safe).unwrap();
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), render(FailMode::Safe));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, MODE);
    }
}
