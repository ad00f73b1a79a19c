//! The real [`Accounts`]: the system's name service through `getpwnam_r`, the thread-safe lookup
//! (sshd and other PAM hosts may run several logins at once), with a bounded buffer.

use std::ffi::{c_char, CStr, CString};

use crate::logic::{Account, Accounts};

/// Where the buffer for one passwd entry starts, and how far it may grow (ERANGE doubles it).
const FIRST_BUFFER: usize = 1024;
const MAX_BUFFER: usize = 1024 * 1024;

pub struct NssAccounts;

impl Accounts for NssAccounts {
    fn lookup(&self, name: &str) -> Result<Option<Account>, String> {
        // A NUL cannot be in a name; PAM_USER comes to us as a C string, so it never has one.
        let Ok(c_name) = CString::new(name) else { return Ok(None) };
        let mut size = FIRST_BUFFER;
        loop {
            let mut buffer = vec![0 as c_char; size];
            // SAFETY: passwd is plain old data; all zeroes is a valid value.
            let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: every pointer is live for the call and `buffer.len()` is the buffer's size;
            // the strings `entry` points to live in `buffer`, read below before it is dropped.
            let rc =
                unsafe { libc::getpwnam_r(c_name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
            if rc == libc::ERANGE && size < MAX_BUFFER {
                size *= 2;
                continue;
            }
            if rc != 0 {
                return Err(format!("getpwnam_r: {}", std::io::Error::from_raw_os_error(rc)));
            }
            if found.is_null() || entry.pw_name.is_null() {
                return Ok(None);
            }
            // SAFETY: getpwnam_r succeeded, so pw_name is a NUL-terminated string inside `buffer`.
            let canonical = unsafe { CStr::from_ptr(entry.pw_name) };
            let canonical = canonical.to_str().map_err(|_| "the account's name is not UTF-8".to_owned())?;
            return Ok(Some(Account { name: canonical.to_owned(), uid: entry.pw_uid }));
        }
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
}
