//! Command-line options of `hostguard-agent`.

use std::path::{Path, PathBuf};

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "hostguard-agent", version, about = "HostGuard host agent: puts 2FA in front of SSH logins")]
pub struct Options {
    /// Base URL of the HostGuard console, e.g. https://console.example.com
    #[arg(long, env = "HOSTGUARD_CONSOLE")]
    pub console: String,

    /// One-time install token; needed only until the agent has registered.
    #[arg(long, env = "HOSTGUARD_INSTALL_TOKEN", hide_env_values = true)]
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

    /// Register if needed, report, apply at most one revision, then exit.
    #[arg(long)]
    pub once: bool,
}

impl Options {
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| self.root.join("var/lib/hostguard"))
    }

    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join("agent.json")
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.state_dir().join("backup")
    }
}

/// True when `root` is the machine's real `/` (then sshd is reloaded after a change).
pub fn is_real_root(root: &Path) -> bool {
    root.canonicalize().map(|p| p == Path::new("/")).unwrap_or(false)
}
