//! The real [`Accounts`]: the system's name service through `getpwnam_r` and `getpwuid_r`, the
//! thread-safe lookups (sshd and other PAM hosts may run several logins at once), with a bounded
//! buffer.

use std::ffi::{c_char, CStr, CString};

use crate::logic::{Account, Accounts};

/// Where the buffer for one passwd entry starts, and how far it may grow (ERANGE doubles it).
const FIRST_BUFFER: usize = 1024;
const MAX_BUFFER: usize = 1024 * 1024;

pub struct NssAccounts;

impl Accounts for NssAccounts {
    /// The account `name` logs in to, named as the name service names its uid. Two names can share
    /// a uid (`toor` beside `root`, or `Alice` and `alice@corp` through SSSD); the login is the
    /// uid's, so the console must see one name for it, or an alias would miss the uid's mapping
    /// and limits.
    fn lookup(&self, name: &str) -> Result<Option<Account>, String> {
        // A NUL cannot be in a name; PAM_USER comes to us as a C string, so it never has one.
        let Ok(c_name) = CString::new(name) else { return Ok(None) };
        let by_name = passwd("getpwnam_r", |entry, buf, len, found| {
            // SAFETY: every pointer is live for the call and `len` is the buffer's size.
            unsafe { libc::getpwnam_r(c_name.as_ptr(), entry, buf, len, found) }
        })?;
        let Some(account) = by_name else { return Ok(None) };
        let by_uid = passwd("getpwuid_r", |entry, buf, len, found| {
            // SAFETY: as above.
            unsafe { libc::getpwuid_r(account.uid, entry, buf, len, found) }
        })?;
        // The uid's own entry names it; an entry that does not map back (an odd NSS source) keeps
        // the name that found it.
        Ok(Some(by_uid.filter(|a| a.uid == account.uid).unwrap_or(account)))
    }
}

/// One passwd entry through a `get*_r` call, growing the buffer on ERANGE.
fn passwd(
    call: &str,
    lookup: impl Fn(*mut libc::passwd, *mut c_char, usize, *mut *mut libc::passwd) -> libc::c_int,
) -> Result<Option<Account>, String> {
    let mut size = FIRST_BUFFER;
    loop {
        let mut buffer = vec![0 as c_char; size];
        // SAFETY: passwd is plain old data; all zeroes is a valid value.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = lookup(&mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found);
        if rc == libc::ERANGE && size < MAX_BUFFER {
            size *= 2;
            continue;
        }
        if rc != 0 {
            return Err(format!("{call}: {}", std::io::Error::from_raw_os_error(rc)));
        }
        if found.is_null() || entry.pw_name.is_null() {
            return Ok(None);
        }
        // SAFETY: the call succeeded, so pw_name is a NUL-terminated string inside `buffer`,
        // which lives until the end of this iteration.
        let canonical = unsafe { CStr::from_ptr(entry.pw_name) };
        let canonical = canonical.to_str().map_err(|_| "the account's name is not UTF-8".to_owned())?;
        return Ok(Some(Account { name: canonical.to_owned(), uid: entry.pw_uid }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_to_uid_zero_and_a_made_up_name_to_nothing() {
        assert_eq!(NssAccounts.lookup("root"), Ok(Some(Account { name: "root".into(), uid: 0 })));
        assert_eq!(NssAccounts.lookup("hostguard-no-such-account-7f3a"), Ok(None));
        assert_eq!(NssAccounts.lookup(""), Ok(None));
        assert_eq!(NssAccounts.lookup("ro\0ot"), Ok(None));
        assert_eq!(NssAccounts.lookup(&"a".repeat(20_000)), Ok(None));
    }

    /// `toor`, a second name for uid 0 with its own password, is `root` to the console: it gets
    /// root's mapping and limits, and no "unenrolled account" pass of its own. Runs itself again
    /// in a private mount namespace whose /etc/passwd has the alias (the host's is not touched).
    #[test]
    fn an_alias_of_a_uid_is_sent_as_the_uids_own_name() {
        if std::env::var_os("HG_ALIAS_NAMESPACE").is_some() {
            assert_eq!(NssAccounts.lookup("toor"), Ok(Some(Account { name: "root".into(), uid: 0 })));
            assert_eq!(NssAccounts.lookup("hgalias"), Ok(Some(Account { name: "hgalias".into(), uid: 4242 })));
            return;
        }
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let has_unshare = std::process::Command::new("unshare").arg("--help").output().is_ok();
        if !root || !has_unshare {
            println!("SKIP alias test: needs root and unshare");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0:alias:/root:/bin/sh\nhgalias:x:4242:4242::/tmp:/bin/sh\n",
        )
        .unwrap();
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", "mount --make-rprivate / && mount --bind \"$1\" /etc/passwd && exec \"$2\" --exact \"$3\" --test-threads 1", "sh"])
            .arg(&passwd)
            .arg(&exe)
            .arg("accounts::tests::an_alias_of_a_uid_is_sent_as_the_uids_own_name")
            .env("HG_ALIAS_NAMESPACE", "1")
            .status()
            .unwrap();
        assert!(status.success(), "the lookup inside the namespace failed: {status}");
    }
}
