//! Applying revisions to a sandbox root, checked by the real sshd.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use agent::api::Method;
use agent::apply::{drop_in, Applier, ApplyError, DROP_IN, PAM_CONF, PAM_LINE, PAM_SSHD};

use crate::sandbox::{revision, sshd_t, Sandbox, PAM_SSHD as DEBIAN_PAM};

#[test]
fn enable_writes_all_files_and_sshd_accepts_them() {
    let sb = Sandbox::new();
    sb.applier().apply(&revision(1, true, Method::Sms)).unwrap();

    assert_eq!(sb.read(DROP_IN).unwrap(), drop_in(1));
    assert!(sb.read(DROP_IN).unwrap().starts_with("# Managed by HostGuard (revision 1). Changes are overwritten.\nUsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive keyboard-interactive\n"));
    let pam = sb.read(PAM_SSHD).unwrap();
    assert!(pam.contains(&format!("@include common-auth\n{PAM_LINE}\n")), "{pam}");
    assert_eq!(pam.matches("# managed by HostGuard").count(), 1);
    // Only what the PAM module reads: the fail mode.
    assert_eq!(sb.read(PAM_CONF).unwrap(), "# Managed by HostGuard. Changes are overwritten.\nfail_mode=secure\n");
    assert_eq!(fs::metadata(sb.path(PAM_CONF)).unwrap().permissions().mode() & 0o777, 0o600);

    let out = sshd_t(&sb);
    assert!(out.status.success(), "sshd -t: {}", String::from_utf8_lossy(&out.stderr));
    // Our drop-in wins over Debian's later `KbdInteractiveAuthentication no`.
    let t = std::process::Command::new(crate::sandbox::SSHD)
        .arg("-T")
        .arg("-f")
        .arg(sb.path("etc/ssh/sshd_config"))
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&t.stdout);
    assert!(t.contains("\nkbdinteractiveauthentication yes\n") && t.contains("\nusepam yes\n"), "{t}");
    assert!(t.contains("\nauthenticationmethods publickey,keyboard-interactive keyboard-interactive\n"));

    // The backup of revision 1 records that none of our files existed but the PAM stack did.
    let backup = sb.path("var/lib/hostguard/backup/rev-1");
    assert_eq!(fs::read_to_string(backup.join(PAM_SSHD)).unwrap(), DEBIAN_PAM);
    assert_eq!(fs::read_to_string(backup.join("ABSENT")).unwrap(), format!("{PAM_CONF}\n{DROP_IN}\n"));
}

#[test]
fn applying_twice_keeps_one_line_and_disabling_restores_the_original() {
    let sb = Sandbox::new();
    let applier = sb.applier();
    applier.apply(&revision(1, true, Method::Sms)).unwrap();
    applier.apply(&revision(2, true, Method::Code)).unwrap();
    let pam = sb.read(PAM_SSHD).unwrap();
    assert_eq!(pam.matches(PAM_LINE).count(), 1, "{pam}");
    assert!(sb.read(PAM_CONF).unwrap().ends_with("\nfail_mode=secure\n"));
    assert!(sb.read(DROP_IN).unwrap().contains("(revision 2)"));

    // The same revision again (e.g. after a restart before the state was saved) changes nothing.
    let before = sb.etc_snapshot();
    applier.apply(&revision(2, true, Method::Code)).unwrap();
    assert_eq!(sb.etc_snapshot(), before);

    applier.apply(&revision(3, false, Method::Code)).unwrap();
    assert_eq!(sb.read(PAM_SSHD).unwrap(), DEBIAN_PAM);
    assert!(!sb.path(DROP_IN).exists());
    assert!(!sb.path(PAM_CONF).exists());
    assert!(sshd_t(&sb).status.success());

    // Disabling again is a no-op, not an error.
    applier.apply(&revision(4, false, Method::Code)).unwrap();
    assert_eq!(sb.read(PAM_SSHD).unwrap(), DEBIAN_PAM);
}

#[test]
fn sshd_t_failure_rolls_everything_back() {
    let sb = Sandbox::new();
    // A valid config, but our drop-in lands inside the Match block, where sshd refuses UsePAM.
    sb.write_sshd_config(&format!(
        "{}Match User nobody\n    X11Forwarding no\nInclude {}\n",
        sb.base_settings(),
        sb.include_glob()
    ));
    assert!(sshd_t(&sb).status.success());
    let before = sb.etc_snapshot();

    let err = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ApplyError::RolledBack { restore_error: None, .. }), "{err:?}");
    assert!(msg.starts_with("sshd -t failed: "), "{msg}");
    assert!(msg.contains("Directive 'UsePAM' is not allowed within a Match block"), "{msg}");
    assert!(msg.ends_with("; the previous configuration was restored"), "{msg}");
    assert_eq!(sb.etc_snapshot(), before);
}

#[test]
fn a_failure_names_the_hosts_files_not_the_sandbox_root() {
    let sb = Sandbox::new();
    let root = sb.root().to_string_lossy().trim_end_matches('/').to_owned();
    // sshd's own words name the drop-in it refused, under the root it was given.
    sb.write_sshd_config(&format!(
        "{}Match User nobody\n    X11Forwarding no\nInclude {}\n",
        sb.base_settings(),
        sb.include_glob()
    ));
    let msg = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err().to_string();
    assert!(msg.contains("/etc/ssh/sshd_config.d/50-hostguard.conf line"), "{msg}");
    assert!(!msg.contains(&root), "{msg}");

    // The agent's own words too.
    sb.write_sshd_config(&sb.base_settings());
    let msg = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err().to_string();
    assert!(msg.contains("/etc/ssh/sshd_config has no `Include"), "{msg}");
    assert!(!msg.contains(&root), "{msg}");
}

#[test]
fn rollback_also_restores_a_previous_enabled_state() {
    let sb = Sandbox::new();
    let applier = sb.applier();
    applier.apply(&revision(1, true, Method::Sms)).unwrap();
    let before = sb.etc_snapshot();
    // Someone breaks the base config so that sshd -t now fails whatever we write.
    let good = sb.read("etc/ssh/sshd_config").unwrap();
    sb.write_sshd_config(&format!("{good}NoSuchDirective yes\n"));
    let before_broken = sb.etc_snapshot();
    let err = applier.apply(&revision(2, false, Method::Sms)).unwrap_err();
    assert!(err.to_string().contains("sshd -t failed"), "{err}");
    assert_eq!(sb.etc_snapshot(), before_broken);
    assert_eq!(before.get(PAM_CONF), before_broken.get(PAM_CONF));
}

#[test]
fn missing_sshd_binary_rolls_back() {
    let sb = Sandbox::new();
    let before = sb.etc_snapshot();
    let applier = Applier::new(sb.root(), Path::new("/nonexistent/sshd"), &sb.path("var/lib/hostguard/backup"));
    let err = applier.apply(&revision(1, true, Method::Sms)).unwrap_err().to_string();
    assert!(err.starts_with("sshd -t failed: cannot run /nonexistent/sshd"), "{err}");
    assert!(err.ends_with("the previous configuration was restored"), "{err}");
    assert_eq!(sb.etc_snapshot(), before);
}

#[test]
fn settings_overridden_by_an_earlier_line_roll_back() {
    let sb = Sandbox::new();
    // sshd keeps the first value: `UsePAM no` before the Include beats our drop-in.
    sb.write_sshd_config(&format!("UsePAM no\nInclude {}\n{}", sb.include_glob(), sb.base_settings()));
    let before = sb.etc_snapshot();
    let err = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err().to_string();
    assert!(err.contains("effective `usepam no`"), "{err}");
    assert_eq!(sb.etc_snapshot(), before);
}

#[test]
fn refuses_without_include_or_pam_stack() {
    let sb = Sandbox::new();
    sb.write_sshd_config(&sb.base_settings());
    let before = sb.etc_snapshot();
    let err = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err();
    assert!(matches!(err, ApplyError::Refused(_)));
    assert!(err.to_string().contains("has no `Include"), "{err}");
    assert_eq!(sb.etc_snapshot(), before);

    // Debian's stock absolute Include means the sandbox's own drop-in directory.
    sb.write_sshd_config(&format!("Include /etc/ssh/sshd_config.d/*.conf\n{}", sb.base_settings()));
    fs::remove_file(sb.path(PAM_SSHD)).unwrap();
    let before = sb.etc_snapshot();
    let err = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err().to_string();
    assert!(err.contains("pam.d/sshd does not exist"), "{err}");
    assert_eq!(sb.etc_snapshot(), before);
}

#[test]
fn refuses_when_the_pam_module_is_not_installed() {
    // A PAM line naming a missing module would refuse every login, so nothing is written.
    let sb = Sandbox::new();
    fs::remove_file(sb.path("lib/x86_64-linux-gnu/security/pam_hostguard.so")).unwrap();
    let before = sb.etc_snapshot();
    let err = sb.applier().apply(&revision(1, true, Method::Code)).unwrap_err();
    assert!(matches!(err, ApplyError::Refused(_)));
    let msg = err.to_string();
    assert!(msg.contains("pam_hostguard.so is not installed") && msg.contains("every SSH login"), "{msg}");
    assert_eq!(sb.etc_snapshot(), before);
    // Disabling needs no module.
    sb.applier().apply(&revision(2, false, Method::Code)).unwrap();
}

#[test]
fn keeps_the_last_five_backups() {
    let sb = Sandbox::new();
    let applier = sb.applier();
    for n in 1..=8 {
        applier.apply(&revision(n, n % 2 == 1, Method::Sms)).unwrap();
    }
    let mut kept: Vec<String> = fs::read_dir(sb.path("var/lib/hostguard/backup"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["rev-4", "rev-5", "rev-6", "rev-7", "rev-8"]);
}

#[test]
fn a_failed_sshd_reload_rolls_back() {
    use agent::apply::Reload;
    let sb = Sandbox::new();
    let before = sb.etc_snapshot();
    // A reload command that fails the way `systemctl reload ssh` does when sshd is not running.
    let script = sb.path("reload-sshd");
    fs::write(&script, "#!/bin/sh\necho 'Job for ssh.service failed.' >&2\nexit 1\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let applier = sb.applier().with_reload(Reload::Command(vec![script.display().to_string()]));

    let err = applier.apply(&revision(1, true, Method::Sms)).unwrap_err();
    assert!(matches!(err, ApplyError::RolledBack { restore_error: None, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("reloading sshd failed: "), "{msg}");
    assert!(msg.contains("Job for ssh.service failed."), "{msg}");
    assert!(msg.ends_with("the previous configuration was restored"), "{msg}");
    assert_eq!(sb.etc_snapshot(), before);

    // A reload that works leaves the change in place.
    let ok = sb.applier().with_reload(Reload::Command(vec!["true".into()]));
    ok.apply(&revision(2, true, Method::Sms)).unwrap();
    assert!(sb.path(DROP_IN).exists());
}

/// Issue 15 item 4: a line before HostGuard's that can end the stack with success skips the
/// module, and a hand-written `auth required pam_unix.so` lets a wrong password reach it. Both
/// are refused before anything is written, naming the file, the line and the fix.
#[test]
fn refuses_pam_stacks_that_skip_the_module_or_run_it_after_a_wrong_password() {
    use crate::sandbox::COMMON_AUTH;
    let sb = Sandbox::new();
    let refused = |sb: &Sandbox| {
        let before = sb.etc_snapshot();
        let err = sb.applier().apply(&revision(1, true, Method::Sms)).unwrap_err();
        assert!(matches!(err, ApplyError::Refused(_)), "{err:?}");
        assert_eq!(sb.etc_snapshot(), before, "nothing was written");
        err.to_string()
    };

    // `auth sufficient pam_permit.so` ahead of HostGuard's line, in sshd's own file.
    sb.write(
        PAM_SSHD,
        &DEBIAN_PAM.replace("@include common-auth\n", "auth sufficient pam_permit.so\n@include common-auth\n"),
    );
    let msg = refused(&sb);
    assert!(msg.contains("/etc/pam.d/sshd line 4: `auth sufficient pam_permit.so` can end the login with success before HostGuard's module runs"), "{msg}");
    assert!(msg.contains("Fix: remove it, or move it below HostGuard's line"), "{msg}");
    assert!(!msg.contains(&sb.root().display().to_string()), "host paths only: {msg}");

    // The same inside common-auth, as the project's own facts test writes pam_duo.
    sb.write(PAM_SSHD, DEBIAN_PAM);
    sb.write("etc/pam.d/common-auth", &format!("auth sufficient /lib/security/pam_duo.so\n{COMMON_AUTH}"));
    let msg = refused(&sb);
    assert!(msg.contains("/etc/pam.d/common-auth line 1: `auth sufficient /lib/security/pam_duo.so`"), "{msg}");

    // `[success=done ...]` too.
    sb.write("etc/pam.d/common-auth", &format!("auth [success=done default=ignore] pam_permit.so\n{COMMON_AUTH}"));
    assert!(refused(&sb).contains("/etc/pam.d/common-auth line 1: "));

    // A hand-written common-auth whose pam_unix failure does not stop the stack.
    sb.write("etc/pam.d/common-auth", "auth required pam_unix.so\n");
    let msg = refused(&sb);
    assert!(msg.contains("/etc/pam.d/common-auth line 1: when `auth required pam_unix.so` fails (a wrong password), the login goes on to HostGuard's module"), "{msg}");
    assert!(msg.contains("`auth requisite pam_unix.so`"), "{msg}");

    // Lines libpam assembles differently from a simple reader (each let pamtester in).
    for head in ["auth required pam_env.so \\# note\n", "auth required pam_env.so \\\r\n"] {
        sb.write("etc/pam.d/common-auth", &format!("{head}auth sufficient pam_permit.so\n{COMMON_AUTH}"));
        let msg = refused(&sb);
        assert!(msg.contains("/etc/pam.d/common-auth line 1: the line holds a "), "{msg}");
        assert!(msg.contains("Fix: rewrite the line in plain ASCII without backslashes"), "{msg}");
    }
    // A password module that returns PAM_IGNORE (pam_krb5 below minimum_uid) lets requisite pass.
    sb.write("etc/pam.d/common-auth", "auth requisite pam_krb5.so minimum_uid=1000\n");
    assert!(refused(&sb)
        .contains("/etc/pam.d/common-auth line 1: when `auth requisite pam_krb5.so minimum_uid=1000` fails"));

    // Fixed as the message says: applied.
    sb.write("etc/pam.d/common-auth", "auth requisite pam_unix.so\n");
    sb.applier().apply(&revision(2, true, Method::Sms)).unwrap();
    assert!(sb.read(PAM_SSHD).unwrap().contains(PAM_LINE));
    // Disabling never needs a safe stack.
    sb.write("etc/pam.d/common-auth", &format!("auth sufficient pam_permit.so\n{COMMON_AUTH}"));
    sb.applier().apply(&revision(3, false, Method::Sms)).unwrap();
    assert_eq!(sb.read(PAM_SSHD).unwrap(), DEBIAN_PAM);
}
