//! Gathers the facts the console turns into readiness: host name and addresses, OS, the sshd
//! settings 2FA depends on, SELinux mode and other 2FA PAM modules that would conflict.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::api::{Facts, SelinuxMode};
use crate::apply::PAM_MARKER;
use crate::cli::is_real_root;
use crate::sshd::{self, SshdPaths};

/// PAM modules of other second-factor products; stacking ours with them locks users out, asks
/// twice or (before ours) lets logins past it, so the console refuses to enable 2FA.
pub const CONFLICTING_PAM_MODULES: &[&str] =
    &["pam_google_authenticator.so", "pam_duo.so", "pam_radius_auth.so", "pam_oath.so", "pam_yubico.so", "pam_u2f.so"];

/// Collects all facts. Runs sshd, so call it off the async runtime.
pub fn collect(root: &Path, sshd_bin: &Path, name: Option<&str>) -> Facts {
    let paths = SshdPaths::new(root);
    let settings = sshd::settings(sshd_bin, &paths);
    let (sshd_match_overrides, sshd_match_overrides_more) = sshd::match_overrides(&paths);
    Facts {
        hostname: hostname(root, name),
        ips: ip_addresses(),
        os_type: proto::OsType::Linux.as_str().to_owned(),
        os_name: os_name(root),
        openssh_version: sshd::version(sshd_bin),
        sshd_use_pam: settings.use_pam,
        sshd_kbd_interactive: settings.kbd_interactive,
        sshd_permit_empty_passwords: settings.permit_empty_passwords,
        selinux: selinux(root),
        agent_version: crate::AGENT_VERSION.to_owned(),
        conflicting_software: conflicting_software(root),
        must_change_password_accounts: Vec::new(),
        sshd_match_overrides,
        sshd_match_overrides_more,
        sshd_drop_in: sshd::drop_in_check(&paths),
        pam_stack: Some(crate::pam_stack::facts(root)),
    }
}

/// `--name`, else `<root>/etc/hostname` in a sandbox root, else the kernel's host name.
pub fn hostname(root: &Path, name: Option<&str>) -> String {
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        return n.to_owned();
    }
    if !is_real_root(root) {
        if let Ok(h) = fs::read_to_string(root.join("etc/hostname")) {
            if !h.trim().is_empty() {
                return h.trim().to_owned();
            }
        }
    }
    system_hostname().unwrap_or_else(|| "localhost".to_owned())
}

fn system_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success
    // (and we stop at the buffer's end if it does not).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned()).filter(|s| !s.is_empty())
}

/// `PRETTY_NAME` from os-release, or `"Linux"`.
pub fn os_name(root: &Path) -> String {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| fs::read_to_string(root.join(p)).ok())
        .and_then(|text| os_release_value(&text, "PRETTY_NAME"))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "Linux".to_owned())
}

fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        (k == key).then(|| unquote(v.trim()).to_owned())
    })
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The running mode from selinuxfs, else the configured one, else disabled (no SELinux at all).
/// `None` when a file exists but cannot be read or understood.
pub fn selinux(root: &Path) -> Option<SelinuxMode> {
    match fs::read_to_string(root.join("sys/fs/selinux/enforce")) {
        Ok(v) => {
            return match v.trim() {
                "1" => Some(SelinuxMode::Enforcing),
                "0" => Some(SelinuxMode::Permissive),
                _ => None,
            }
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => return None,
        Err(_) => {}
    }
    match fs::read_to_string(root.join("etc/selinux/config")) {
        Ok(text) => match os_release_value(&text, "SELINUX")?.to_ascii_lowercase().as_str() {
            "enforcing" => Some(SelinuxMode::Enforcing),
            "permissive" => Some(SelinuxMode::Permissive),
            "disabled" => Some(SelinuxMode::Disabled),
            _ => None,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(SelinuxMode::Disabled),
        Err(_) => None,
    }
}

/// Other 2FA PAM modules referenced by `<root>/etc/pam.d/sshd` or the files it includes (at any
/// depth, with `@include`, `include` or `substack`).
pub fn conflicting_software(root: &Path) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for file in crate::pam_stack::stack_files(root) {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || line.contains(PAM_MARKER) {
                continue;
            }
            for module in CONFLICTING_PAM_MODULES {
                let used = line.split_whitespace().any(|w| w == *module || w.ends_with(&format!("/{module}")));
                if used && !found.iter().any(|f| f == module) {
                    found.push((*module).to_owned());
                }
            }
        }
    }
    found
}

/// Non-loopback, non-link-local addresses of the host, IPv4 first.
pub fn ip_addresses() -> Vec<String> {
    let mut addrs: Vec<IpAddr> = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a linked list we only read and then free exactly once; each
    // ifa_addr is checked for null and read as the sockaddr type its family says it is.
    unsafe {
        if libc::getifaddrs(&mut ifap) != 0 {
            return Vec::new();
        }
        let mut cur = ifap;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || ifa.ifa_flags & (libc::IFF_LOOPBACK as libc::c_uint) != 0 {
                continue;
            }
            let ip = match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            };
            addrs.push(ip);
        }
        libc::freeifaddrs(ifap);
    }
    let mut addrs: Vec<IpAddr> = addrs
        .into_iter()
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
            IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
        .collect();
    addrs.sort_by_key(|ip| ip.is_ipv6());
    let mut out: Vec<String> = Vec::new();
    for ip in addrs.iter().map(IpAddr::to_string) {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_are_unquoted() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
        assert_eq!(os_release_value(text, "PRETTY_NAME").as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(os_release_value(text, "ID").as_deref(), Some("debian"));
        assert_eq!(os_release_value(text, "VERSION"), None);
    }

    #[test]
    fn addresses_exclude_loopback() {
        let ips = ip_addresses();
        assert!(ips.iter().all(|ip| ip != "127.0.0.1" && ip != "::1"), "{ips:?}");
    }
}
