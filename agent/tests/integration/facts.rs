//! Facts read from a sandbox root and the real sshd.

use std::path::Path;

use agent::api::SelinuxMode;
use agent::facts::{self, collect};
use agent::sshd::{self, SshdPaths, SshdSettings};

use crate::sandbox::{Sandbox, SSHD};

#[test]
fn collects_from_sshd_t_and_os_release() {
    let sb = Sandbox::new();
    let f = collect(sb.root(), Path::new(SSHD), None);
    assert_eq!(f.hostname, "sandbox-host");
    assert_eq!(f.os_type, "linux");
    assert_eq!(f.os_name, "Debian GNU/Linux 12 (bookworm)");
    assert!(f.openssh_version.as_deref().unwrap().starts_with("OpenSSH_"), "{:?}", f.openssh_version);
    assert_eq!(f.sshd_use_pam, Some(true));
    assert_eq!(f.sshd_kbd_interactive, Some(false));
    let drop_in = f.sshd_drop_in.as_ref().expect("sshd_config was read");
    assert!(drop_in.included && drop_in.earlier_settings.is_empty(), "{drop_in:?}");
    assert_eq!(f.sshd_permit_empty_passwords, Some(false));
    assert_eq!(f.selinux, Some(SelinuxMode::Disabled));
    assert_eq!(f.agent_version, env!("CARGO_PKG_VERSION"));
    assert!(f.conflicting_software.is_empty());
    assert!(f.must_change_password_accounts.is_empty());
    assert!(f.ips.iter().all(|ip| ip != "127.0.0.1"));

    assert_eq!(collect(sb.root(), Path::new(SSHD), Some("web-01")).hostname, "web-01");
    std::fs::remove_file(sb.path("etc/os-release")).unwrap();
    assert_eq!(facts::os_name(sb.root()), "Linux");
}

#[test]
fn effective_settings_come_from_sshd_t() {
    let sb = Sandbox::new();
    sb.write("etc/ssh/sshd_config.d/10-local.conf", "PermitEmptyPasswords yes\nKbdInteractiveAuthentication yes\n");
    let paths = SshdPaths::new(sb.root());
    // Proof that sshd -T itself works here (it needs a host key and /run/sshd).
    let map = sshd::effective_config(Path::new(SSHD), &paths.config_file()).unwrap();
    assert_eq!(map.get("permitemptypasswords").map(String::as_str), Some("yes"));
    let expected =
        SshdSettings { use_pam: Some(true), kbd_interactive: Some(true), permit_empty_passwords: Some(true) };
    assert_eq!(sshd::settings(Path::new(SSHD), &paths), expected);
}

#[test]
fn falls_back_to_parsing_when_sshd_cannot_run() {
    let sb = Sandbox::new();
    sb.write("etc/ssh/sshd_config.d/10-local.conf", "ChallengeResponseAuthentication yes\nPermitEmptyPasswords yes\n");
    let paths = SshdPaths::new(sb.root());
    let expected =
        SshdSettings { use_pam: Some(true), kbd_interactive: Some(true), permit_empty_passwords: Some(true) };

    // No sshd at all.
    let f = collect(sb.root(), Path::new("/nonexistent/sshd"), None);
    assert_eq!(f.openssh_version, None);
    assert_eq!(
        (f.sshd_use_pam, f.sshd_kbd_interactive, f.sshd_permit_empty_passwords),
        (Some(true), Some(true), Some(true))
    );

    // A real sshd that refuses -T because the host key is missing.
    std::fs::remove_file(sb.path("etc/ssh/ssh_host_ed25519_key")).unwrap();
    assert!(sshd::effective_config(Path::new(SSHD), &paths.config_file()).is_err());
    assert_eq!(sshd::settings(Path::new(SSHD), &paths), expected);

    // Nothing set anywhere: sshd's defaults.
    sb.write_sshd_config("Port 22\n");
    let defaults =
        SshdSettings { use_pam: Some(false), kbd_interactive: Some(true), permit_empty_passwords: Some(false) };
    assert_eq!(sshd::settings(Path::new("/nonexistent/sshd"), &paths), defaults);
}

#[test]
fn selinux_mode() {
    let sb = Sandbox::new();
    assert_eq!(facts::selinux(sb.root()), Some(SelinuxMode::Disabled));
    sb.write(
        "etc/selinux/config",
        "# This file controls the state of SELinux\nSELINUX=permissive\nSELINUXTYPE=targeted\n",
    );
    assert_eq!(facts::selinux(sb.root()), Some(SelinuxMode::Permissive));
    sb.write("etc/selinux/config", "SELINUX=disabled\n");
    assert_eq!(facts::selinux(sb.root()), Some(SelinuxMode::Disabled));
    // The running mode wins over the configured one.
    sb.write("sys/fs/selinux/enforce", "1");
    assert_eq!(facts::selinux(sb.root()), Some(SelinuxMode::Enforcing));
    sb.write("sys/fs/selinux/enforce", "0");
    assert_eq!(facts::selinux(sb.root()), Some(SelinuxMode::Permissive));
    sb.write("sys/fs/selinux/enforce", "garbage");
    assert_eq!(facts::selinux(sb.root()), None);
}

#[test]
fn conflicting_pam_modules() {
    let sb = Sandbox::new();
    let pam = sb.read("etc/pam.d/sshd").unwrap();
    sb.write(
        "etc/pam.d/sshd",
        &pam.replace("@include common-auth\n", "@include common-auth\nauth required pam_google_authenticator.so nullok\n# auth required pam_radius_auth.so\n"),
    );
    sb.write(
        "etc/pam.d/common-auth",
        &format!("auth sufficient /lib/security/pam_duo.so\n{}", crate::sandbox::COMMON_AUTH),
    );
    assert_eq!(facts::conflicting_software(sb.root()), ["pam_google_authenticator.so", "pam_duo.so"]);
    // pam_duo's `sufficient` line ends the login before HostGuard's module: the facts say where.
    let f = collect(sb.root(), Path::new(SSHD), None);
    let stack = f.pam_stack.expect("checked");
    let first = &stack.problems[0];
    assert_eq!((first.file.as_str(), first.line), ("/etc/pam.d/common-auth", 1), "{stack:?}");
    assert!(first.problem.contains("can end the login with success"), "{stack:?}");

    // Found at any depth of includes, with `include` and `substack` too.
    sb.write("etc/pam.d/common-auth", &format!("auth substack site-auth\n{}", crate::sandbox::COMMON_AUTH));
    sb.write("etc/pam.d/site-auth", "auth include deeper-auth\n");
    sb.write("etc/pam.d/deeper-auth", "auth optional pam_yubico.so\n");
    assert!(facts::conflicting_software(sb.root()).contains(&"pam_yubico.so".to_owned()));
}

#[test]
fn the_stock_stack_is_safe_and_the_report_says_so() {
    let sb = Sandbox::new();
    let f = collect(sb.root(), Path::new(SSHD), None);
    assert_eq!(f.pam_stack, Some(proto::agent::PamStackCheck::default()));
    // A stack without `@include common-auth` is reported for the file as a whole.
    sb.write("etc/pam.d/sshd", "auth substack password-auth\n");
    let stack = collect(sb.root(), Path::new(SSHD), None).pam_stack.unwrap();
    assert_eq!((stack.problems[0].file.as_str(), stack.problems[0].line), ("/etc/pam.d/sshd", 0));
}

#[test]
fn an_over_long_match_entry_no_longer_hides_a_later_one() {
    let sb = Sandbox::new();
    sb.write(
        "etc/ssh/sshd_config.d/60-huge.conf",
        &format!(
            "Match User {}\n    KbdInteractiveAuthentication yes\n",
            (0..300).map(|i| format!("user{i}")).collect::<Vec<_>>().join(",")
        ),
    );
    sb.write("etc/ssh/sshd_config.d/70-deploy.conf", "Match User deploy\n    AuthenticationMethods publickey\n");
    assert!(crate::sandbox::sshd_t(&sb).status.success());
    let f = collect(sb.root(), Path::new(SSHD), None);
    assert_eq!(f.sshd_match_overrides.len(), 2);
    assert!(f.sshd_match_overrides[0].criteria.chars().count() <= 512, "cut to what the console takes");
    assert_eq!(f.sshd_match_overrides[1].criteria, "User deploy");
    assert_eq!(f.sshd_match_overrides_more, 0);
}

#[test]
fn match_blocks_that_change_2fa_settings_are_reported() {
    let sb = Sandbox::new();
    sb.write(
        "etc/ssh/sshd_config.d/60-deploy.conf",
        "Match User deploy\n    AuthenticationMethods publickey\n    KbdInteractiveAuthentication no\n",
    );
    // sshd itself accepts it: these are allowed inside Match.
    assert!(crate::sandbox::sshd_t(&sb).status.success());
    let f = collect(sb.root(), Path::new(SSHD), None);
    let found: Vec<(String, u32, String, String, String)> = f
        .sshd_match_overrides
        .iter()
        .map(|o| (o.file.clone(), o.line, o.criteria.clone(), o.keyword.clone(), o.value.clone()))
        .collect();
    let file = "/etc/ssh/sshd_config.d/60-deploy.conf".to_owned();
    assert_eq!(
        found,
        [
            (file.clone(), 2, "User deploy".into(), "AuthenticationMethods".into(), "publickey".into()),
            (file, 3, "User deploy".into(), "KbdInteractiveAuthentication".into(), "no".into()),
        ]
    );
    // The global settings still look ready, which is why the Match block must be reported.
    assert_eq!(f.sshd_use_pam, Some(true));
}
