//! A throwaway root with the files a Debian server has, good enough for the real `sshd -t`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use agent::api::{Assignment, Method};
use agent::apply::Applier;
use tempfile::TempDir;
use uuid::Uuid;

pub const SSHD: &str = "/usr/sbin/sshd";

pub const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// Debian 12's /etc/pam.d/sshd.
pub const PAM_SSHD: &str = "# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

# Disallow non-root logins when /etc/nologin exists.
account    required     pam_nologin.so

# Uncomment and edit /etc/security/access.conf if you need to set complex
# access limits that are hard to express in sshd_config.
# account  required     pam_access.so

# Standard Un*x authorization.
@include common-account

# SELinux needs to be the first session rule.  This ensures that any
# lingering context has been cleared.  Without this, it is possible that a
# module could execute code in the wrong domain.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close

# Set the loginuid process attribute.
session    required     pam_loginuid.so

# Create a new session keyring.
session    optional     pam_keyinit.so force revoke

# Standard Un*x session setup and teardown.
@include common-session

# Print the message of the day upon successful login.
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    optional     pam_motd.so noupdate

# Print the status of the user's mailbox upon successful login.
session    optional     pam_mail.so standard noenv # [1]

# Set up user limits from /etc/security/limits.conf.
session    required     pam_limits.so

# Read environment variables from /etc/environment and
# /etc/security/pam_env.conf.
session    required     pam_env.so # [1]
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale

# SELinux needs to be the last session rule.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open

# Standard Un*x password updating.
@include common-password
";

pub const COMMON_AUTH: &str = "auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n";

pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    /// A root like a stock Debian 12 server, except that sshd_config's paths point into it.
    pub fn new() -> Self {
        ensure_privsep_dir();
        let sb = Sandbox { dir: tempfile::tempdir().unwrap() };
        sb.write("etc/os-release", OS_RELEASE);
        sb.write("etc/hostname", "sandbox-host\n");
        sb.write("etc/pam.d/sshd", PAM_SSHD);
        sb.write("etc/pam.d/common-auth", COMMON_AUTH);
        // Where HostGuard's PAM module is installed (the module itself comes with a later issue).
        sb.write("lib/x86_64-linux-gnu/security/pam_hostguard.so", "");
        fs::create_dir_all(sb.path("etc/ssh/sshd_config.d")).unwrap();
        let key = sb.path("etc/ssh/ssh_host_ed25519_key");
        let status =
            Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
        assert!(status.success(), "ssh-keygen failed");
        sb.write_sshd_config(&format!("Include {}\n{}", sb.include_glob(), sb.base_settings()));
        sb
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.path(rel)).ok()
    }

    pub fn include_glob(&self) -> String {
        format!("{}/*.conf", self.path("etc/ssh/sshd_config.d").display())
    }

    /// Debian's stock settings (KbdInteractiveAuthentication no comes after the Include, as there).
    pub fn base_settings(&self) -> String {
        format!(
            "HostKey {}\nPidFile none\nKbdInteractiveAuthentication no\nUsePAM yes\nPermitEmptyPasswords no\nX11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
            self.path("etc/ssh/ssh_host_ed25519_key").display()
        )
    }

    pub fn write_sshd_config(&self, text: &str) {
        self.write("etc/ssh/sshd_config", text);
    }

    pub fn applier(&self) -> Applier {
        Applier::new(self.root(), Path::new(SSHD), &self.path("var/lib/hostguard/backup"))
    }

    /// Every file under etc/ with its bytes and mode, to prove a rollback left nothing behind.
    pub fn etc_snapshot(&self) -> BTreeMap<String, (Vec<u8>, u32)> {
        let mut out = BTreeMap::new();
        walk(&self.path("etc"), self.root(), &mut out);
        out
    }
}

fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            walk(&p, root, out);
        } else {
            let mode = fs::metadata(&p).unwrap().permissions().mode();
            out.insert(p.strip_prefix(root).unwrap().display().to_string(), (fs::read(&p).unwrap(), mode));
        }
    }
}

/// sshd -t / -T refuse to run without the privilege separation directory, which systemd's
/// ssh.service normally creates (RuntimeDirectory=sshd). It belongs to the machine, not the sandbox.
pub fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        fs::create_dir_all(dir).expect("create /run/sshd (the tests run as root)");
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

pub fn revision(n: i64, enabled: bool, method: Method) -> Assignment {
    Assignment {
        revision: n,
        enabled,
        method: Some(method),
        topic_urn: (method == Method::Sms).then(|| "urn:smn:region-1:tenant:ops-alerts".to_owned()),
        server_id: Uuid::nil(),
        // What a console sends; the agent writes nothing of it anywhere.
        console_url: "https://elsewhere.example.test".to_owned(),
    }
}

pub fn sshd_t(sb: &Sandbox) -> std::process::Output {
    Command::new(SSHD).arg("-t").arg("-f").arg(sb.path("etc/ssh/sshd_config")).output().unwrap()
}
