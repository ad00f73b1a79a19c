//! Applies a config revision to the files HostGuard manages under the agent's root: the sshd
//! drop-in, our line in the sshd PAM stack and the PAM module's config ([`crate::pam_conf`]). Every apply backs the
//! files up, checks the result with the real `sshd -t`, and puts back exactly what was there
//! when anything goes wrong, so a bad revision can never leave sshd unable to start.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::api::Assignment;
use crate::cli::is_real_root;
use crate::files::{read_optional, remove_if_exists, write_atomic};
use crate::sshd::{self, SshdPaths};

/// Marks every line HostGuard adds to a file it shares with the system.
pub const PAM_MARKER: &str = "# managed by HostGuard";
/// The line that puts our module in sshd's auth stack.
pub const PAM_LINE: &str = "auth required pam_hostguard.so config=/etc/hostguard/pam.conf # managed by HostGuard";
/// The sshd drop-in, present only while 2FA is enabled.
pub const DROP_IN: &str = "etc/ssh/sshd_config.d/50-hostguard.conf";
/// sshd's PAM stack, which we edit in place.
pub const PAM_SSHD: &str = "etc/pam.d/sshd";
pub use crate::pam_conf::PAM_CONF;
/// Every file an apply may change, in the order they are written.
pub const MANAGED_FILES: [&str; 3] = [PAM_CONF, DROP_IN, PAM_SSHD];
/// Every login must also pass keyboard-interactive, i.e. the PAM stack with our module.
pub const AUTHENTICATION_METHODS: &str = "publickey,keyboard-interactive keyboard-interactive";

const KEEP_BACKUPS: usize = 5;

/// Why a revision was not applied. In every case the managed files are as they were before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// Refused before touching anything.
    Refused(String),
    /// Files were changed, then put back (`restore_error` says if that failed too).
    RolledBack { reason: String, restore_error: Option<String> },
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Refused(reason) => write!(f, "{reason}; nothing was changed"),
            ApplyError::RolledBack { reason, restore_error: None } => {
                write!(f, "{reason}; the previous configuration was restored")
            }
            ApplyError::RolledBack { reason, restore_error: Some(e) } => {
                write!(f, "{reason}; restoring the previous configuration FAILED too: {e}")
            }
        }
    }
}

impl std::error::Error for ApplyError {}

/// What a managed file should become.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Write { bytes: Vec<u8>, mode: u32 },
    Absent,
    Unchanged,
}

/// A managed file as it was before the apply: its bytes and mode, or `None` if it did not exist.
type Snapshot = Vec<(&'static str, Option<(Vec<u8>, u32)>)>;

/// How sshd is told to read its new configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// Not at all (a sandbox root: no sshd reads these files).
    None,
    /// `systemctl reload ssh`, or `sshd` where the unit has that name.
    Systemd,
    /// This program and its arguments.
    Command(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Applier {
    pub root: PathBuf,
    pub sshd: PathBuf,
    pub backup_dir: PathBuf,
    pub reload: Reload,
    /// What the PAM module does when the agent cannot be asked (from the login policy).
    pub fail_mode: proto::login::FailMode,
}

impl Applier {
    /// Reloads sshd through systemd on the real root and not at all in a sandbox.
    pub fn new(root: &Path, sshd: &Path, backup_dir: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            sshd: sshd.to_path_buf(),
            backup_dir: backup_dir.to_path_buf(),
            reload: if is_real_root(root) { Reload::Systemd } else { Reload::None },
            fail_mode: proto::login::FailMode::Secure,
        }
    }

    pub fn with_reload(mut self, reload: Reload) -> Self {
        self.reload = reload;
        self
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Applies `rev`: back up, write, `sshd -t`, and restore on any failure. The reason of a
    /// failure names files as the host knows them (`/etc/ssh/sshd_config`), not under a sandbox
    /// root: it is shown to the tenant's admins, who know no `--root`.
    pub fn apply(&self, rev: &Assignment) -> Result<(), ApplyError> {
        self.apply_files(rev).map_err(|e| match e {
            ApplyError::Refused(reason) => ApplyError::Refused(self.host_paths(&reason)),
            ApplyError::RolledBack { reason, restore_error } => ApplyError::RolledBack {
                reason: self.host_paths(&reason),
                restore_error: restore_error.map(|e| self.host_paths(&e)),
            },
        })
    }

    /// `text` with every path under the agent's root written as the host's own path.
    fn host_paths(&self, text: &str) -> String {
        let root = self.root.to_string_lossy();
        let root = root.trim_end_matches('/');
        if root.is_empty() {
            return text.to_owned();
        }
        text.replace(&format!("{root}/"), "/")
    }

    fn apply_files(&self, rev: &Assignment) -> Result<(), ApplyError> {
        let targets = self.plan(rev).map_err(ApplyError::Refused)?;
        let snapshot =
            self.snapshot().map_err(|e| ApplyError::Refused(format!("cannot read the current files: {e}")))?;
        self.backup(rev.revision, &snapshot)
            .map_err(|e| ApplyError::Refused(format!("cannot back up the current configuration: {e}")))?;

        if let Err(reason) = self.write(&targets).and_then(|()| self.check(rev.enabled)) {
            let restore_error = self.restore(&snapshot).err();
            return Err(ApplyError::RolledBack { reason, restore_error });
        }
        // Files sshd has not read protect nothing, and the console would show Enabled: a failed
        // reload fails the apply, and the old files go back so that disk and sshd agree again.
        if let Err(reason) = self.reload_sshd() {
            let restore_error = self.restore(&snapshot).err();
            if restore_error.is_none() {
                // Best effort: sshd may have read part of the change before failing.
                if let Err(e) = self.reload_sshd() {
                    tracing::warn!("reloading sshd with the restored configuration failed too: {e}");
                }
            }
            return Err(ApplyError::RolledBack { reason: format!("reloading sshd failed: {reason}"), restore_error });
        }
        Ok(())
    }

    fn reload_sshd(&self) -> Result<(), String> {
        match &self.reload {
            Reload::None => Ok(()),
            Reload::Systemd => reload_sshd_unit(),
            Reload::Command(argv) => {
                let (program, args) = argv.split_first().ok_or("the reload command is empty")?;
                let out =
                    Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
                if out.status.success() {
                    return Ok(());
                }
                let stderr: String = String::from_utf8_lossy(&out.stderr).trim().chars().take(1000).collect();
                Err(if stderr.is_empty() {
                    format!("{} exited with {}", argv.join(" "), out.status)
                } else {
                    format!("{} exited with {}: {stderr}", argv.join(" "), out.status)
                })
            }
        }
    }

    /// Works out the new content of every managed file without writing anything.
    fn plan(&self, rev: &Assignment) -> Result<Vec<(&'static str, Target)>, String> {
        let pam_path = self.path(PAM_SSHD);
        let pam_text = read_optional(&pam_path)
            .map_err(|e| format!("cannot read {}: {e}", pam_path.display()))?
            .map(|b| String::from_utf8(b).map_err(|_| format!("{} is not UTF-8", pam_path.display())))
            .transpose()?;
        let pam_mode = mode_of(&pam_path).unwrap_or(0o644);

        if !rev.enabled {
            let pam = match pam_text {
                Some(text) => Target::Write { bytes: pam_without_hostguard(&text).into_bytes(), mode: pam_mode },
                None => Target::Unchanged,
            };
            return Ok(vec![(PAM_CONF, Target::Absent), (DROP_IN, Target::Absent), (PAM_SSHD, pam)]);
        }

        rev.method.ok_or("the revision enables 2FA but names no method")?;
        // A PAM line naming a module that is not installed makes PAM refuse every login.
        if !PAM_MODULE_DIRS.iter().any(|dir| self.path(dir).join(PAM_MODULE).exists()) {
            return Err(format!(
                "{PAM_MODULE} is not installed (looked in {}); install HostGuard's PAM module first, or every SSH login would be refused",
                PAM_MODULE_DIRS.iter().map(|d| format!("/{d}")).collect::<Vec<_>>().join(", ")
            ));
        }
        let paths = SshdPaths::new(&self.root);
        let config = paths.config_file();
        let config_text = fs::read_to_string(&config).map_err(|e| format!("cannot read {}: {e}", config.display()))?;
        if !sshd::includes_drop_in_dir(&paths, &config_text) {
            return Err(format!(
                "{} has no `Include {}/*.conf` line, so sshd would not read HostGuard's settings; add it at the top",
                config.display(),
                if is_real_root(&self.root) {
                    "/etc/ssh/sshd_config.d".to_owned()
                } else {
                    paths.drop_in_dir().display().to_string()
                }
            ));
        }
        let pam_text =
            pam_text.ok_or_else(|| format!("{} does not exist; is openssh-server installed?", pam_path.display()))?;
        let pam = pam_with_hostguard(&pam_text).map_err(|e| format!("{}: {e}", pam_path.display()))?;
        // The stack as it would be: nothing before our line may end it with success, and a wrong
        // password must end it before our line.
        crate::pam_stack::check_text(&self.root, &pam).map_err(|problems| crate::pam_stack::refusal(&problems))?;

        let pam_conf = crate::pam_conf::render(self.fail_mode);
        Ok(vec![
            (PAM_CONF, Target::Write { bytes: pam_conf.into_bytes(), mode: crate::pam_conf::MODE }),
            (DROP_IN, Target::Write { bytes: drop_in(rev.revision).into_bytes(), mode: 0o644 }),
            (PAM_SSHD, Target::Write { bytes: pam.into_bytes(), mode: pam_mode }),
        ])
    }

    fn snapshot(&self) -> io::Result<Snapshot> {
        MANAGED_FILES
            .iter()
            .map(|rel| {
                let path = self.path(rel);
                let content = read_optional(&path)?.map(|b| (b, mode_of(&path).unwrap_or(0o644)));
                Ok((*rel, content))
            })
            .collect()
    }

    /// Copies the current files to `<backup_dir>/rev-N/` (missing ones listed in `ABSENT`) and
    /// keeps the newest few. The in-memory snapshot is what rollback uses; this copy is for people.
    fn backup(&self, revision: i64, snapshot: &Snapshot) -> io::Result<()> {
        let dir = self.backup_dir.join(format!("rev-{revision}"));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        let mut absent = String::new();
        for (rel, content) in snapshot {
            match content {
                Some((bytes, mode)) => write_atomic(&dir.join(rel), bytes, *mode)?,
                None => absent.push_str(&format!("{rel}\n")),
            }
        }
        write_atomic(&dir.join("ABSENT"), absent.as_bytes(), 0o600)?;
        self.prune_backups()
    }

    fn prune_backups(&self) -> io::Result<()> {
        let mut revs: Vec<(i64, PathBuf)> = fs::read_dir(&self.backup_dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().strip_prefix("rev-")?.parse().ok()?;
                Some((n, e.path()))
            })
            .collect();
        revs.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        for (_, path) in revs.into_iter().skip(KEEP_BACKUPS) {
            fs::remove_dir_all(path)?;
        }
        Ok(())
    }

    fn write(&self, targets: &[(&'static str, Target)]) -> Result<(), String> {
        for (rel, target) in targets {
            let path = self.path(rel);
            let result = match target {
                Target::Write { bytes, mode } => write_atomic(&path, bytes, *mode),
                Target::Absent => remove_if_exists(&path),
                Target::Unchanged => Ok(()),
            };
            result.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// `sshd -t` must accept the new files; when enabling, sshd's effective settings (if `sshd -T`
    /// can tell) must really be ours, or an earlier line in sshd_config silently overrides them.
    fn check(&self, enabled: bool) -> Result<(), String> {
        let config = SshdPaths::new(&self.root).config_file();
        sshd::test_config(&self.sshd, &config).map_err(|e| format!("sshd -t failed: {e}"))?;
        if !enabled {
            return Ok(());
        }
        let effective = match sshd::effective_config(&self.sshd, &config) {
            Ok(map) => map,
            Err(e) => {
                tracing::debug!("sshd -T failed after sshd -t passed ({e}); skipping the effective-settings check");
                return Ok(());
            }
        };
        for key in ["usepam", "kbdinteractiveauthentication"] {
            match effective.get(key).map(String::as_str) {
                Some("yes") | None => {}
                Some(v) => return Err(overridden(key, v)),
            }
        }
        if let Some(methods) = effective.get("authenticationmethods") {
            let every_path_uses_pam = methods.split_whitespace().all(|list| {
                list.split(',').any(|m| m == "keyboard-interactive" || m.starts_with("keyboard-interactive:"))
            });
            if methods == "any" || !every_path_uses_pam {
                return Err(overridden("authenticationmethods", methods));
            }
        }
        Ok(())
    }

    /// Puts every managed file back as it was; tries them all and reports every failure.
    fn restore(&self, snapshot: &Snapshot) -> Result<(), String> {
        let mut errors = Vec::new();
        for (rel, content) in snapshot {
            let path = self.path(rel);
            let result = match content {
                Some((bytes, mode)) => write_atomic(&path, bytes, *mode),
                None => remove_if_exists(&path),
            };
            if let Err(e) = result {
                errors.push(format!("{}: {e}", path.display()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            tracing::error!("could not restore the previous configuration: {}", errors.join("; "));
            Err(errors.join("; "))
        }
    }
}

fn overridden(key: &str, value: &str) -> String {
    format!(
        "sshd_config overrides HostGuard's settings (effective `{key} {value}`): sshd keeps the first value it reads, \
         so the Include of sshd_config.d/*.conf must come before other settings"
    )
}

fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

/// The sshd drop-in for an enabling revision.
/// The PAM module the managed line loads, and where PAM looks for modules (Debian, RHEL, others).
pub const PAM_MODULE: &str = "pam_hostguard.so";
pub const PAM_MODULE_DIRS: &[&str] = &[
    "lib/x86_64-linux-gnu/security",
    "usr/lib/x86_64-linux-gnu/security",
    "lib64/security",
    "usr/lib64/security",
    "lib/security",
];

pub fn drop_in(revision: i64) -> String {
    format!(
        "# Managed by HostGuard (revision {revision}). Changes are overwritten.\n\
         UsePAM yes\n\
         KbdInteractiveAuthentication yes\n\
         AuthenticationMethods {AUTHENTICATION_METHODS}\n"
    )
}

/// `text` with exactly one HostGuard line, right after `@include common-auth`.
///
/// Only there: Debian's and Ubuntu's common-auth ends a login with a wrong password
/// (`requisite pam_deny.so`) before the next line runs. After other stacks' auth lines (RHEL's
/// `substack password-auth`, whose failure does not stop the stack) the module would ask for
/// the second factor, and send codes, for logins whose password was wrong, or whose account
/// does not exist.
pub fn pam_with_hostguard(text: &str) -> Result<String, String> {
    let clean = pam_without_hostguard(text);
    let lines: Vec<&str> = clean.split_inclusive('\n').collect();
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let Some(i) = lines.iter().position(|l| words(l) == ["@include", "common-auth"]) else {
        return Err("this PAM stack has no `@include common-auth` line; HostGuard puts its module right after it, \
                    where a wrong password has already ended the login (Debian and Ubuntu stacks). Other stacks are \
                    not supported yet"
            .to_owned());
    };
    let mut out = String::with_capacity(clean.len() + PAM_LINE.len() + 2);
    for (n, line) in lines.iter().enumerate() {
        out.push_str(line);
        if n == i {
            if line.ends_with('\n') {
                out.push_str(PAM_LINE);
                out.push('\n');
            } else {
                // The anchor is the last line and has no newline; keep the file ending the same way.
                out.push('\n');
                out.push_str(PAM_LINE);
            }
        }
    }
    Ok(out)
}

/// `text` without any HostGuard line, byte for byte what it was before [`pam_with_hostguard`].
pub fn pam_without_hostguard(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.contains(PAM_MARKER) {
            if !line.ends_with('\n') && out.ends_with('\n') {
                out.pop();
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Asks systemd to reload sshd (the unit is `ssh` on Debian, `sshd` elsewhere).
fn reload_sshd_unit() -> Result<(), String> {
    let mut errors = Vec::new();
    for unit in ["ssh", "sshd"] {
        match Command::new("systemctl").args(["reload", unit]).output() {
            Ok(out) if out.status.success() => {
                tracing::info!("reloaded {unit}.service");
                return Ok(());
            }
            Ok(out) => errors.push(format!("systemctl reload {unit}: {}", String::from_utf8_lossy(&out.stderr).trim())),
            Err(e) => errors.push(format!("systemctl reload {unit}: {e}")),
        }
    }
    Err(errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "# PAM configuration for the Secure Shell service\n\n@include common-auth\naccount    required     pam_nologin.so\n@include common-account\nsession [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close\n@include common-session\n";

    #[test]
    fn pam_line_goes_after_common_auth_once_and_comes_out_cleanly() {
        let with = pam_with_hostguard(DEBIAN).unwrap();
        assert!(with.contains(&format!("@include common-auth\n{PAM_LINE}\naccount")));
        assert_eq!(pam_with_hostguard(&with).unwrap(), with);
        assert_eq!(pam_without_hostguard(&with), DEBIAN);
    }

    #[test]
    fn stacks_where_a_wrong_password_does_not_stop_are_refused() {
        // RHEL's substack fails without stopping: the module would run after a wrong password.
        let rhel = "#%PAM-1.0\nauth       substack     password-auth\nauth       include      postlogin\naccount    required     pam_nologin.so";
        let err = pam_with_hostguard(rhel).unwrap_err();
        assert!(err.contains("@include common-auth"), "{err}");
        assert!(pam_with_hostguard("auth required pam_unix.so").is_err());
        assert!(pam_with_hostguard("account required pam_unix.so\n").is_err());
        // The last line of a file still works without a trailing newline.
        let last = "@include common-auth";
        let with = pam_with_hostguard(last).unwrap();
        assert_eq!(with, format!("{last}\n{PAM_LINE}"));
        assert_eq!(pam_without_hostguard(&with), last);
    }
}
