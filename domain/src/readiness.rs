//! Whether a server is ready for 2FA, from the facts its agent reports. Hard blockers refuse
//! the server; warnings are shown but do not block. Each finding names the rule, the server and
//! what to do, as the HSS "Enabling 2FA" page's prerequisites and constraints do.

use proto::agent::SelinuxMode;
use proto::readiness::ReadinessRule;

/// What the agent reported about a server (fields it could not tell are `None`).
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub server_name: String,
    pub linux: bool,
    pub protection_enabled: bool,
    pub agent_online: bool,
    /// Why the server's last 2FA change failed, until a later one is applied.
    pub last_apply_failure: Option<String>,
    pub sshd_use_pam: Option<bool>,
    pub sshd_kbd_interactive: Option<bool>,
    pub sshd_permit_empty_passwords: Option<bool>,
    /// e.g. `OpenSSH_8.9p1`.
    pub openssh_version: Option<String>,
    /// `enforcing`, `permissive` or `disabled`.
    pub selinux: Option<SelinuxMode>,
    /// Windows accounts with "User must change password at next logon".
    pub must_change_password_accounts: Vec<String>,
    /// Software known to conflict: other second-factor PAM modules in sshd's stack on Linux,
    /// security software on Windows (e.g. "360 Guard (server edition)").
    pub conflicting_software: Vec<String>,
    /// sshd `Match` blocks that set one of the settings 2FA depends on.
    pub sshd_match_overrides: Vec<SshdMatchOverride>,
    /// How many more of those the agent found than it listed.
    pub sshd_match_overrides_more: u32,
    /// Whether HostGuard's sshd drop-in would take effect; `None` from agents too old to say.
    pub sshd_drop_in: Option<SshdDropInCheck>,
    /// The agent's check of sshd's PAM auth stack; `None` from agents too old to check it (they
    /// apply without it, as they always did; a current agent refuses an unsafe stack).
    pub pam_stack: Option<PamStackCheck>,
}

pub use proto::agent::{PamStackCheck, PamStackProblem, SshdDropInCheck, SshdMatchOverride, SshdSetting};

/// Where the agent writes its sshd settings while 2FA is on (see the agent's `apply::DROP_IN`).
const DROP_IN: &str = "/etc/ssh/sshd_config.d/50-hostguard.conf";

/// Whether the setting still sends every login it applies to through keyboard-interactive (PAM).
fn keeps_2fa(keyword: &str, value: &str) -> bool {
    let value = value.trim();
    match keyword.to_ascii_lowercase().as_str() {
        "usepam" | "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
            value.eq_ignore_ascii_case("yes")
        }
        "authenticationmethods" => {
            value != "any"
                && value.split_whitespace().all(|list| {
                    list.split(',').any(|m| m == "keyboard-interactive" || m.starts_with("keyboard-interactive:"))
                })
        }
        _ => true,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Blocker,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: ReadinessRule,
    pub severity: Severity,
    /// What stands in the way and its fix, naming the server, for lists of many servers.
    pub message: String,
    /// The same without the server's name, for places that name the server once.
    pub reason: String,
}

/// The major version of an `OpenSSH_X.Yp1`-style string.
fn openssh_major(version: &str) -> Option<u32> {
    let digits = version.trim_start_matches(|c: char| !c.is_ascii_digit());
    digits.split(['.', 'p', '_', ' ']).next()?.parse().ok()
}

pub fn check(f: &Facts) -> Vec<Finding> {
    let mut out = vec![];
    let name = &f.server_name;
    let mut add = |rule, severity, reason: String| {
        out.push(Finding { rule, severity, message: format!("{name}: {reason}"), reason })
    };
    if !f.protection_enabled {
        add(
            ReadinessRule::Protection,
            Severity::Blocker,
            "server protection is off. Enable protection for it first.".to_owned(),
        );
    }
    // An offline agent does not stop a change: it waits for the agent, and fails at the rollout's
    // deadline if the agent is not back by then.
    if !f.agent_online {
        add(
            ReadinessRule::AgentOnline,
            Severity::Warning,
            "the agent is offline. The change will wait for the agent and apply when it is back online; start the HostGuard agent on the server.".to_owned(),
        );
    }
    if let Some(reason) = &f.last_apply_failure {
        add(
            ReadinessRule::LastApplyFailed,
            Severity::Blocker,
            format!("the last 2FA change failed: {reason}. Fix the cause on the server, then retry the change."),
        );
    }
    for software in &f.conflicting_software {
        add(
            ReadinessRule::ConflictingSoftware,
            Severity::Blocker,
            if f.linux {
                format!("{software}, another second-factor PAM module, is in sshd's PAM stack; with HostGuard's it asks twice, locks users out, or lets logins past HostGuard's module. Remove it from /etc/pam.d/sshd and the files it includes before enabling 2FA.")
            } else {
                format!("{software} conflicts with 2FA. Stop or uninstall it before enabling.")
            },
        );
    }
    if !f.linux {
        add(
            ReadinessRule::WindowsUnsupported,
            Severity::Blocker,
            "Windows servers are not supported yet: no HostGuard agent can apply 2FA on Windows today, so the change would only fail after its deadline. Leave 2FA off on this server and protect its remote desktop logins another way (e.g. reachable only through a VPN or bastion host) until Windows support is released.".to_owned(),
        );
    }
    if f.linux {
        if let Some(stack) = &f.pam_stack {
            for p in &stack.problems {
                let at = if p.line == 0 { p.file.clone() } else { format!("{} (line {})", p.file, p.line) };
                add(
                    ReadinessRule::PamStack,
                    Severity::Blocker,
                    format!(
                        "sshd's PAM stack is not safe for 2FA: {at}: {} Fix: {}",
                        p.problem.trim_end(),
                        p.fix.trim_end()
                    ),
                );
            }
            if stack.more > 0 {
                add(
                    ReadinessRule::PamStack,
                    Severity::Blocker,
                    format!("the agent found {} more problems in sshd's PAM stack than it could list. Fix the ones above, then check /etc/pam.d/sshd and the files it includes again.", stack.more),
                );
            }
        }
        match &f.sshd_drop_in {
            // Without the agent's word on the drop-in, only settings that are on already will do.
            None => {
                if f.sshd_use_pam != Some(true) {
                    add(
                        ReadinessRule::SshdUsePam,
                        Severity::Blocker,
                        "sshd does not use PAM. Set `UsePAM yes` in /etc/ssh/sshd_config and reload sshd.".to_owned(),
                    );
                }
                if f.sshd_kbd_interactive != Some(true) {
                    add(
                        ReadinessRule::SshdKeyboardInteractive,
                        Severity::Blocker,
                        "sshd does not allow keyboard-interactive login, which asks for the code. Set `KbdInteractiveAuthentication yes` and reload sshd.".to_owned(),
                    );
                }
            }
            Some(d) if !d.included => add(
                ReadinessRule::SshdDropInNotIncluded,
                Severity::Blocker,
                format!("/etc/ssh/sshd_config does not include /etc/ssh/sshd_config.d/*.conf, so sshd would not read HostGuard's settings ({DROP_IN}). Add `Include /etc/ssh/sshd_config.d/*.conf` at the top of /etc/ssh/sshd_config and reload sshd."),
            ),
            Some(d) => {
                let overrides: Vec<&SshdSetting> =
                    d.earlier_settings.iter().filter(|s| !keeps_2fa(&s.keyword, &s.value)).collect();
                for s in &overrides {
                    let fix = if s.file.starts_with("/etc/ssh/sshd_config.d/") {
                        "Remove that line, or rename the file so that it sorts after 50-hostguard.conf"
                    } else {
                        "Remove that line, or move `Include /etc/ssh/sshd_config.d/*.conf` above it"
                    };
                    add(
                        ReadinessRule::SshdDropInOverridden,
                        Severity::Blocker,
                        format!(
                            "{} (line {}) sets `{} {}` before sshd reads HostGuard's {DROP_IN}; sshd keeps the first value it reads, so 2FA would not take effect. {fix}, and reload sshd.",
                            s.file, s.line, s.keyword, s.value
                        ),
                    );
                }
                let overridden = |keywords: &[&str]| {
                    overrides.iter().any(|s| keywords.iter().any(|k| s.keyword.eq_ignore_ascii_case(k)))
                };
                // The drop-in turns these on; say so, unless an earlier line (a blocker above) wins.
                let has = |setting: &str, value: Option<bool>| match value {
                    Some(false) => format!("sshd has `{setting} no`"),
                    _ => format!("sshd's `{setting}` could not be read"),
                };
                if f.sshd_use_pam != Some(true) && !overridden(&["UsePAM"]) {
                    add(
                        ReadinessRule::SshdUsePam,
                        Severity::Warning,
                        format!("{}; HostGuard's agent turns it on when 2FA is enabled (drop-in 50-hostguard.conf).", has("UsePAM", f.sshd_use_pam)),
                    );
                }
                if f.sshd_kbd_interactive != Some(true)
                    && !overridden(&["KbdInteractiveAuthentication", "ChallengeResponseAuthentication"])
                {
                    add(
                        ReadinessRule::SshdKeyboardInteractive,
                        Severity::Warning,
                        format!("{}; HostGuard's agent turns it on when 2FA is enabled (drop-in 50-hostguard.conf).", has("KbdInteractiveAuthentication", f.sshd_kbd_interactive)),
                    );
                }
            }
        }
        if f.sshd_permit_empty_passwords == Some(true) {
            add(
                ReadinessRule::SshdPermitEmptyPasswords,
                Severity::Warning,
                "sshd permits empty passwords. Set `PermitEmptyPasswords no`.".to_owned(),
            );
        }
        match f.openssh_version.as_deref().map(|v| (v, openssh_major(v))) {
            None | Some((_, None)) => add(
                ReadinessRule::OpensshVersion,
                Severity::Warning,
                "the OpenSSH version is unknown; 2FA needs keyboard-interactive support (OpenSSH 7 or later)."
                    .to_owned(),
            ),
            Some((v, Some(major))) if major < 7 => add(
                ReadinessRule::OpensshVersion,
                Severity::Warning,
                format!("{v} is older than OpenSSH 7; the code prompt may not appear. Upgrade OpenSSH."),
            ),
            _ => {}
        }
        for o in f.sshd_match_overrides.iter().filter(|o| !keeps_2fa(&o.keyword, &o.value)) {
            add(
                ReadinessRule::SshdMatchOverride,
                Severity::Blocker,
                format!(
                    "the `Match {}` block in {} (line {}) sets `{} {}`, so logins matching it would skip the 2FA code. Remove that line from the Match block (or set it as HostGuard does: UsePAM yes, KbdInteractiveAuthentication yes, AuthenticationMethods with keyboard-interactive in every list) and reload sshd.",
                    o.criteria, o.file, o.line, o.keyword, o.value
                ),
            );
        }
        if f.sshd_match_overrides_more > 0 {
            add(
                ReadinessRule::SshdMatchOverride,
                Severity::Blocker,
                format!(
                    "the agent found {} more sshd `Match` settings of UsePAM, KbdInteractiveAuthentication or AuthenticationMethods than it could list, and any of them may let logins skip the 2FA code. Remove the Match blocks you do not need from /etc/ssh/sshd_config and the files it includes, and reload sshd.",
                    f.sshd_match_overrides_more
                ),
            );
        }
        if let Some(more) = f.sshd_drop_in.as_ref().map(|d| d.more).filter(|m| *m > 0) {
            add(
                ReadinessRule::SshdDropInOverridden,
                Severity::Blocker,
                format!("sshd reads {more} more settings of UsePAM, KbdInteractiveAuthentication or AuthenticationMethods before HostGuard's {DROP_IN} than the agent could list, and any of them may undo 2FA. Remove them, or move `Include /etc/ssh/sshd_config.d/*.conf` to the top of /etc/ssh/sshd_config, and reload sshd."),
            );
        }
        if f.sshd_drop_in.is_some() {
            add(
                ReadinessRule::PublicKeyLoginsAskCode,
                Severity::Warning,
                "with 2FA on, SSH logins with a public key are asked for the code too, not only password logins (HostGuard sets `AuthenticationMethods publickey,keyboard-interactive keyboard-interactive`). Make sure people and scripts that log in with a key can answer the code prompt.".to_owned(),
            );
        }
        if f.selinux == Some(SelinuxMode::Enforcing) {
            add(ReadinessRule::Selinux, Severity::Warning, "SELinux is enforcing and may stop sshd from loading the 2FA module. Set it to permissive or add a policy for the module.".to_owned());
        }
    } else {
        if !f.must_change_password_accounts.is_empty() {
            add(
                ReadinessRule::WindowsMustChangePassword,
                Severity::Warning,
                format!(
                    "{} must change password at next logon, which does not work with 2FA. Clear that option, or they cannot log in.",
                    f.must_change_password_accounts.join(", ")
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready_linux() -> Facts {
        Facts {
            server_name: "web-01".into(),
            linux: true,
            protection_enabled: true,
            agent_online: true,
            sshd_use_pam: Some(true),
            sshd_kbd_interactive: Some(true),
            sshd_permit_empty_passwords: Some(false),
            openssh_version: Some("OpenSSH_8.9p1".into()),
            selinux: Some(SelinuxMode::Disabled),
            ..Default::default()
        }
    }

    fn rules(f: &Facts, severity: Severity) -> Vec<&'static str> {
        check(f).into_iter().filter(|x| x.severity == severity).map(|x| x.rule.as_str()).collect()
    }

    #[test]
    fn a_ready_linux_server_has_no_findings() {
        assert!(check(&ready_linux()).is_empty());
    }

    #[test]
    fn a_failed_last_change_blocks_with_its_reason() {
        let f = Facts { last_apply_failure: Some("sshd -t failed: bad option".into()), ..ready_linux() };
        let found = check(&f);
        assert_eq!(rules(&f, Severity::Blocker), vec!["last_apply_failed"]);
        assert!(found[0].message.starts_with("web-01: the last 2FA change failed: sshd -t failed: bad option."));
        // The reason alone, for a place that names the server once.
        assert_eq!(format!("web-01: {}", found[0].reason), found[0].message);
    }

    #[test]
    fn hard_blockers_name_the_server_and_the_fix() {
        let f = Facts {
            protection_enabled: false,
            agent_online: false,
            sshd_use_pam: Some(false),
            sshd_kbd_interactive: None,
            ..ready_linux()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["protection", "sshd_use_pam", "sshd_keyboard_interactive"]);
        assert_eq!(rules(&f, Severity::Warning), vec!["agent_online"], "a change waits for an offline agent");
        let msgs: Vec<String> = check(&f).into_iter().map(|x| x.message).collect();
        assert!(msgs.iter().all(|m| m.starts_with("web-01: ")));
        assert!(msgs.iter().any(|m| m.contains("UsePAM yes")));
    }

    #[test]
    fn warnings_do_not_block() {
        let f = Facts {
            selinux: Some(SelinuxMode::Enforcing),
            openssh_version: Some("OpenSSH_6.6p1".into()),
            sshd_permit_empty_passwords: Some(true),
            ..ready_linux()
        };
        assert!(rules(&f, Severity::Blocker).is_empty());
        assert_eq!(rules(&f, Severity::Warning), vec!["sshd_permit_empty_passwords", "openssh_version", "selinux"]);
        let unknown = Facts { openssh_version: None, ..ready_linux() };
        assert_eq!(rules(&unknown, Severity::Warning), vec!["openssh_version"]);
    }

    #[test]
    fn windows_rules() {
        let f = Facts {
            server_name: "rdp-04".into(),
            linux: false,
            protection_enabled: true,
            agent_online: true,
            must_change_password_accounts: vec!["Administrator".into()],
            conflicting_software: vec!["360 Guard (server edition)".into()],
            ..Default::default()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["conflicting_software", "windows_unsupported"], "no sshd rules");
        assert_eq!(rules(&f, Severity::Warning), vec!["windows_must_change_password"]);
        let msg = &check(&f)[1].message;
        assert!(msg.starts_with("rdp-04: Windows servers are not supported yet"), "{msg}");
        assert!(msg.contains("Leave 2FA off on this server"), "{msg}");
    }

    #[test]
    fn a_windows_server_with_nothing_else_in_the_way_is_still_not_ready() {
        let f = Facts {
            server_name: "rdp-01".into(),
            linux: false,
            protection_enabled: true,
            agent_online: true,
            ..Default::default()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["windows_unsupported"]);
    }

    #[test]
    fn another_second_factor_module_blocks_on_linux() {
        let f = Facts { conflicting_software: vec!["pam_duo.so".into()], ..ready_linux() };
        assert_eq!(rules(&f, Severity::Blocker), vec!["conflicting_software"]);
        let msg = &check(&f)[0].message;
        assert!(
            msg.starts_with("web-01: pam_duo.so, another second-factor PAM module, is in sshd's PAM stack"),
            "{msg}"
        );
        assert!(msg.contains("Remove it from /etc/pam.d/sshd"), "{msg}");
    }

    #[test]
    fn pam_stack_problems_block_naming_file_line_and_fix() {
        const SKIPPED: &str = "`auth sufficient pam_duo.so` can end the login with success before HostGuard's module runs, so the second factor is skipped.";
        let problem = |file: &str, line: u32| PamStackProblem {
            file: file.into(),
            line,
            problem: SKIPPED.into(),
            fix: "remove it.".into(),
        };
        let f = Facts {
            pam_stack: Some(PamStackCheck {
                problems: vec![problem("/etc/pam.d/common-auth", 1), problem("/etc/pam.d/sshd", 0)],
                more: 3,
            }),
            ..ready_linux()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["pam_stack"; 3]);
        let msgs: Vec<String> = check(&f).into_iter().map(|x| x.message).collect();
        assert_eq!(
            msgs[0],
            "web-01: sshd's PAM stack is not safe for 2FA: /etc/pam.d/common-auth (line 1): `auth sufficient pam_duo.so` can end the login with success before HostGuard's module runs, so the second factor is skipped. Fix: remove it."
        );
        assert!(msgs[1].contains("safe for 2FA: /etc/pam.d/sshd: "), "{}", msgs[1]);
        assert!(msgs[2].contains("3 more problems"), "{}", msgs[2]);
        let safe = Facts { pam_stack: Some(PamStackCheck::default()), ..ready_linux() };
        assert!(check(&safe).is_empty());
    }

    #[test]
    fn settings_the_agent_could_not_list_block() {
        let f = Facts { sshd_match_overrides_more: 18, ..ready_linux() };
        assert_eq!(rules(&f, Severity::Blocker), vec!["sshd_match_override"]);
        assert!(check(&f)[0].message.contains("18 more sshd `Match` settings"));
        let f = Facts {
            sshd_drop_in: Some(SshdDropInCheck { included: true, earlier_settings: vec![], more: 2 }),
            ..stock_debian()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["sshd_drop_in_overridden"]);
    }

    #[test]
    fn match_blocks_that_undo_2fa_block() {
        let o = |keyword: &str, value: &str| SshdMatchOverride {
            file: "/etc/ssh/sshd_config.d/60-deploy.conf".into(),
            line: 3,
            criteria: "User deploy".into(),
            keyword: keyword.into(),
            value: value.into(),
        };
        let f = Facts {
            sshd_match_overrides: vec![
                o("AuthenticationMethods", "publickey"),
                o("KbdInteractiveAuthentication", "no"),
                o("UsePAM", "no"),
                // Harmless: still through keyboard-interactive.
                o("AuthenticationMethods", "publickey,keyboard-interactive"),
                o("KbdInteractiveAuthentication", "yes"),
            ],
            ..ready_linux()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["sshd_match_override"; 3]);
        let msg = &check(&f)[0].message;
        assert!(msg.starts_with("web-01: the `Match User deploy` block in /etc/ssh/sshd_config.d/60-deploy.conf (line 3) sets `AuthenticationMethods publickey`"), "{msg}");
        assert!(msg.contains("reload sshd"), "{msg}");
    }

    /// Stock Debian/Ubuntu as a current agent reports it: `KbdInteractiveAuthentication no` after
    /// the Include, so nothing is read before HostGuard's drop-in.
    fn stock_debian() -> Facts {
        Facts {
            sshd_kbd_interactive: Some(false),
            sshd_drop_in: Some(SshdDropInCheck { included: true, earlier_settings: vec![], more: 0 }),
            ..ready_linux()
        }
    }

    fn setting(file: &str, line: u32, keyword: &str, value: &str) -> SshdSetting {
        SshdSetting { file: file.into(), line, keyword: keyword.into(), value: value.into() }
    }

    #[test]
    fn kbd_interactive_off_only_warns_when_our_drop_in_wins() {
        let f = stock_debian();
        assert!(rules(&f, Severity::Blocker).is_empty(), "{:?}", check(&f));
        assert_eq!(rules(&f, Severity::Warning), vec!["sshd_keyboard_interactive", "public_key_logins_ask_code"]);
        let msgs: Vec<String> = check(&f).into_iter().map(|x| x.message).collect();
        assert_eq!(
            msgs[0],
            "web-01: sshd has `KbdInteractiveAuthentication no`; HostGuard's agent turns it on when 2FA is enabled (drop-in 50-hostguard.conf)."
        );
        assert!(msgs[1].contains("public key") && msgs[1].contains("publickey,keyboard-interactive"), "{}", msgs[1]);

        let no_pam = Facts { sshd_use_pam: Some(false), sshd_kbd_interactive: None, ..stock_debian() };
        assert!(rules(&no_pam, Severity::Blocker).is_empty());
        assert_eq!(
            rules(&no_pam, Severity::Warning),
            vec!["sshd_use_pam", "sshd_keyboard_interactive", "public_key_logins_ask_code"]
        );
    }

    #[test]
    fn without_the_drop_in_fact_kbd_interactive_off_still_blocks() {
        let old_agent = Facts { sshd_drop_in: None, ..stock_debian() };
        assert_eq!(rules(&old_agent, Severity::Blocker), vec!["sshd_keyboard_interactive"]);
        assert!(rules(&old_agent, Severity::Warning).is_empty(), "no public-key notice either");
    }

    #[test]
    fn a_config_that_does_not_include_the_drop_in_dir_blocks() {
        let f = Facts {
            sshd_drop_in: Some(SshdDropInCheck {
                included: false,
                earlier_settings: vec![setting("/etc/ssh/sshd_config", 3, "KbdInteractiveAuthentication", "no")],
                more: 0,
            }),
            ..stock_debian()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["sshd_drop_in_not_included"]);
        let msg = &check(&f)[0].message;
        assert!(msg.starts_with("web-01: "), "{msg}");
        assert!(
            msg.contains("Add `Include /etc/ssh/sshd_config.d/*.conf` at the top of /etc/ssh/sshd_config"),
            "{msg}"
        );
    }

    #[test]
    fn earlier_settings_that_undo_2fa_block_and_name_the_line() {
        let f = Facts {
            sshd_use_pam: Some(false),
            sshd_drop_in: Some(SshdDropInCheck {
                included: true,
                earlier_settings: vec![
                    setting("/etc/ssh/sshd_config", 2, "KbdInteractiveAuthentication", "no"),
                    setting("/etc/ssh/sshd_config.d/10-cloud.conf", 4, "UsePAM", "no"),
                    setting("/etc/ssh/sshd_config.d/20-keys.conf", 1, "AuthenticationMethods", "publickey"),
                    // Harmless even though they come first: they keep keyboard-interactive on.
                    setting("/etc/ssh/sshd_config", 1, "ChallengeResponseAuthentication", "yes"),
                    setting("/etc/ssh/sshd_config", 5, "AuthenticationMethods", "password,keyboard-interactive"),
                ],
                more: 0,
            }),
            ..stock_debian()
        };
        assert_eq!(rules(&f, Severity::Blocker), vec!["sshd_drop_in_overridden"; 3]);
        // The blockers say it; no warning claims the agent turns those settings on.
        assert_eq!(rules(&f, Severity::Warning), vec!["public_key_logins_ask_code"]);
        let msgs: Vec<String> = check(&f).into_iter().map(|x| x.message).collect();
        assert_eq!(
            msgs[0],
            "web-01: /etc/ssh/sshd_config (line 2) sets `KbdInteractiveAuthentication no` before sshd reads HostGuard's /etc/ssh/sshd_config.d/50-hostguard.conf; sshd keeps the first value it reads, so 2FA would not take effect. Remove that line, or move `Include /etc/ssh/sshd_config.d/*.conf` above it, and reload sshd."
        );
        assert!(msgs[1].contains("10-cloud.conf (line 4) sets `UsePAM no`"), "{}", msgs[1]);
        assert!(msgs[1].contains("rename the file so that it sorts after 50-hostguard.conf"), "{}", msgs[1]);
        assert!(msgs[2].contains("`AuthenticationMethods publickey`"), "{}", msgs[2]);

        let harmless = Facts {
            sshd_drop_in: Some(SshdDropInCheck {
                included: true,
                earlier_settings: vec![setting("/etc/ssh/sshd_config", 1, "UsePAM", "yes")],
                more: 0,
            }),
            ..stock_debian()
        };
        assert!(rules(&harmless, Severity::Blocker).is_empty());
    }

    #[test]
    fn openssh_versions() {
        assert_eq!(openssh_major("OpenSSH_8.9p1"), Some(8));
        assert_eq!(openssh_major("OpenSSH_10.0"), Some(10));
        assert_eq!(openssh_major("7.4"), Some(7));
        assert_eq!(openssh_major("unknown"), None);
    }
}
