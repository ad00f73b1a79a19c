//! Command-line options of `hostguard-agent`.

use std::path::{Path, PathBuf};

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "hostguard-agent", version, about = "HostGuard host agent: puts 2FA in front of SSH logins")]
pub struct Options {
    /// Base URL of the HostGuard console, e.g. https://console.example.com. It is also the
    /// address the PAM module is configured with.
    #[arg(long, env = "HOSTGUARD_CONSOLE")]
    pub console: String,

    /// Allow a plain-http console URL (development only: the credential and the 2FA
    /// configuration would cross the network unprotected).
    #[arg(long)]
    pub insecure_http: bool,

    /// File holding the one-time install token (`-` reads it from standard input); needed only
    /// until the agent has registered. The token can also come from the HOSTGUARD_INSTALL_TOKEN
    /// environment variable. It is never taken on the command line, where `ps` and sudo's log
    /// would show it.
    #[arg(long)]
    pub token_file: Option<PathBuf>,

    /// Refused: a token on the command line is visible to every user of the machine.
    #[arg(long, hide = true)]
    pub token: Option<String>,

    /// Directory every managed file lives under (tests and demos use a sandbox).
    #[arg(long, default_value = "/")]
    pub root: PathBuf,

    /// The sshd binary used for `-V`, `-T` and `-t`.
    #[arg(long, default_value = "/usr/sbin/sshd")]
    pub sshd: PathBuf,

    /// Where the agent keeps its state; defaults to <root>/var/lib/hostguard.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,

    /// Seconds the console may hold a config long-poll (0..=30).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub poll_wait: u64,

    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_secs: u64,

    /// Host name to report instead of the machine's (several demo agents on one machine).
    #[arg(long)]
    pub name: Option<String>,

    /// The Unix socket where the PAM module asks about logins. Default: /run/hostguard/pam.sock
    /// on the real root, <state-dir>/pam.sock under another --root.
    #[arg(long)]
    pub socket: Option<PathBuf>,

    /// Register if needed, report, apply at most one revision, then exit.
    #[arg(long)]
    pub once: bool,

    /// Command that makes sshd read its new configuration, split on spaces; an apply whose
    /// reload fails is rolled back. Default on the real root: `systemctl reload ssh` (or `sshd`);
    /// under another `--root`, no reload unless this is given.
    #[arg(long)]
    pub reload_command: Option<String>,
}

/// The longest install token file read; real tokens are under 100 bytes.
const MAX_TOKEN_FILE: u64 = 4096;
pub const TOKEN_ENV: &str = "HOSTGUARD_INSTALL_TOKEN";

impl Options {
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| self.root.join("var/lib/hostguard"))
    }

    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join("agent.json")
    }

    pub fn socket_path(&self) -> PathBuf {
        match &self.socket {
            Some(p) => p.clone(),
            None if is_real_root(&self.root) => PathBuf::from(proto::login::SOCKET_PATH),
            None => self.state_dir().join("pam.sock"),
        }
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.state_dir().join("backup")
    }

    /// The install token from `--token-file` or `HOSTGUARD_INSTALL_TOKEN`, if any.
    pub fn install_token(&self) -> Result<Option<String>, String> {
        self.refuse_token_flag()?;
        let token = match &self.token_file {
            Some(path) => Some(read_token_file(path)?),
            None => std::env::var(TOKEN_ENV).ok(),
        };
        Ok(token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()))
    }

    /// `--token` is refused, registered or not, so the habit does not outlive the first install.
    pub fn refuse_token_flag(&self) -> Result<(), String> {
        match self.token {
            Some(_) => Err(format!(
                "--token is not accepted: `ps` and sudo's log would show the token. Pass it in a file with \
                 --token-file (or on standard input with --token-file -), or in {TOKEN_ENV}"
            )),
            None => Ok(()),
        }
    }

    /// Refuses a console URL that is not https, unless `--insecure-http` allows http.
    pub fn check_console_url(&self) -> Result<(), String> {
        let url = self.console.trim();
        if url.starts_with("https://") {
            Ok(())
        } else if url.starts_with("http://") {
            if self.insecure_http {
                Ok(())
            } else {
                Err(format!(
                    "--console {url} is plain http: the agent's credential and its 2FA configuration would cross \
                     the network unprotected. Use the console's https:// URL, or --insecure-http for a development console"
                ))
            }
        } else {
            Err(format!("--console {url} must start with https://"))
        }
    }
}

fn read_token_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    let result = if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_TOKEN_FILE).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_TOKEN_FILE).read_to_string(&mut text))
    };
    result.map_err(|e| format!("cannot read the install token from {}: {e}", path.display()))?;
    Ok(text)
}

/// True when `root` is the machine's real `/` (then sshd is reloaded after a change).
pub fn is_real_root(root: &Path) -> bool {
    root.canonicalize().map(|p| p == Path::new("/")).unwrap_or(false)
}
