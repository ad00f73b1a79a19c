//! The agent's side of the login dialogue: a Unix socket that only root can use, where the PAM
//! module opens a login and passes the user's answers. The agent hands each to the console and
//! passes back the console's next step. When the console cannot be reached, the server's fail
//! mode decides, from the login policy the agent keeps on disk: exempt accounts and networks
//! pass, `safe` allows and `secure` denies unless the user has a break-glass code. Logins
//! decided that way are recorded locally and reported once the console is back.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use proto::login::{
    FailMode, LoginPolicy, LoginResult, LoginStart, ModuleRequest, OfflineLogin, OfflineReport, Step, MAX_LINE_BYTES,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, Semaphore};
use uuid::Uuid;

use crate::api::{ApiClient, ApiError};
use crate::files;

/// Logins handled at once; more wait for a slot (the module's deadline still bounds them).
const MAX_CONCURRENT_LOGINS: usize = 64;
/// How long the module has to send its first request.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a user may take to answer one prompt (the module's own deadline is shorter by
/// default; past this the daemon says no rather than hang up).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// Offline logins kept for reporting; past this, the oldest go (and a warning is logged).
const MAX_QUEUED: usize = 10_000;

const POLICY_FILE: &str = "login-policy.json";

/// What the agent keeps on disk for logins, all root-only (0600).
#[derive(Debug, Clone)]
pub struct LoginStore {
    dir: PathBuf,
}

impl LoginStore {
    pub fn new(state_dir: &Path) -> Self {
        Self { dir: state_dir.to_path_buf() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> T {
        match files::read_optional(&self.path(name)) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("{} is unreadable ({e}); using the default", self.path(name).display());
                T::default()
            }),
            Ok(None) => T::default(),
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", self.path(name).display());
                T::default()
            }
        }
    }

    fn write<T: serde::Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        files::write_atomic(&self.path(name), &bytes, 0o600)
    }

    pub fn policy(&self) -> LoginPolicy {
        self.read(POLICY_FILE)
    }

    pub fn save_policy(&self, p: &LoginPolicy) -> std::io::Result<()> {
        self.write(POLICY_FILE, p)
    }

    pub fn used_break_glass(&self) -> Vec<Uuid> {
        self.read("break-glass-used.json")
    }

    fn mark_break_glass_used(&self, id: Uuid) -> std::io::Result<()> {
        let mut used = self.used_break_glass();
        used.push(id);
        self.write("break-glass-used.json", &used)
    }

    pub fn queued(&self) -> Vec<OfflineLogin> {
        self.read("offline-logins.json")
    }

    fn queue(&self, login: OfflineLogin) -> std::io::Result<()> {
        let mut q = self.queued();
        q.push(login);
        if q.len() > MAX_QUEUED {
            tracing::warn!("more than {MAX_QUEUED} offline logins are waiting to be reported; dropping the oldest");
            let excess = q.len() - MAX_QUEUED;
            q.drain(..excess);
        }
        self.write("offline-logins.json", &q)
    }

    fn remove_queued(&self, sent: &[Uuid]) -> std::io::Result<()> {
        let q: Vec<OfflineLogin> = self.queued().into_iter().filter(|l| !sent.contains(&l.id)).collect();
        self.write("offline-logins.json", &q)
    }
}

/// Handles logins for one registered agent.
pub struct LoginService {
    client: ApiClient,
    store: LoginStore,
    /// Serializes changes to the files of [`LoginStore`].
    lock: Mutex<()>,
    slots: Semaphore,
    /// The PAM module's settings file, whose `fail_mode=` line follows the policy.
    pam_conf: PathBuf,
}

impl LoginService {
    pub fn new(client: ApiClient, store: LoginStore, pam_conf: PathBuf) -> Arc<Self> {
        Arc::new(Self { client, store, lock: Mutex::new(()), slots: Semaphore::new(MAX_CONCURRENT_LOGINS), pam_conf })
    }

    /// Fetches the login policy, keeps it on disk, and points the PAM module's fail mode at it.
    pub async fn refresh_policy(&self) -> Result<(), ApiError> {
        let policy = sane(self.client.login_policy().await?);
        let _guard = self.lock.lock().await;
        if policy != self.store.policy() || !self.store.path(POLICY_FILE).exists() {
            if let Err(e) = self.store.save_policy(&policy) {
                tracing::error!("cannot keep the login policy: {e}");
            }
        }
        if let Err(e) = set_fail_mode(&self.pam_conf, policy.fail_mode) {
            tracing::error!("cannot update the fail mode in {}: {e}", self.pam_conf.display());
        }
        Ok(())
    }

    /// Reports the logins decided while the console was unreachable; they stay queued until it
    /// has them.
    pub async fn flush_offline(&self) -> Result<usize, ApiError> {
        let queued = {
            let _guard = self.lock.lock().await;
            self.store.queued()
        };
        if queued.is_empty() {
            return Ok(0);
        }
        for chunk in queued.chunks(200) {
            match self.client.report_offline(&OfflineReport { logins: chunk.to_vec() }).await {
                Ok(()) => {}
                // Refused as malformed: sending it again cannot help, and it must not hold up
                // the reports behind it.
                Err(e @ ApiError::Status { status: 422, .. }) => {
                    tracing::error!("the console refused {} offline logins ({e}); dropping them", chunk.len());
                }
                Err(e) => return Err(e),
            }
            let ids: Vec<Uuid> = chunk.iter().map(|l| l.id).collect();
            let _guard = self.lock.lock().await;
            if let Err(e) = self.store.remove_queued(&ids) {
                tracing::error!("cannot update the offline login queue: {e}");
            }
        }
        tracing::info!(count = queued.len(), "reported logins decided while the console was unreachable");
        Ok(queued.len())
    }

    /// Serves the PAM module on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: UnixListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("accepting a PAM connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // The socket's directory is root's alone; check the peer too, in case it is not.
            match stream.peer_cred() {
                Ok(c) if c.uid() == 0 => {}
                Ok(c) => {
                    tracing::warn!(uid = c.uid(), "refused a login connection from a process that is not root");
                    continue;
                }
                Err(e) => {
                    tracing::warn!("cannot tell who connected to the login socket ({e}); refused");
                    continue;
                }
            }
            let svc = Arc::clone(&self);
            tokio::spawn(async move {
                // Full: say no at once. Waiting would let whoever holds the slots run the other
                // logins into the module's deadline, and so into its fail mode.
                let Ok(_slot) = svc.slots.try_acquire() else {
                    tracing::warn!("{MAX_CONCURRENT_LOGINS} logins are already in progress; refusing another");
                    let (_, mut write) = stream.into_split();
                    let _ = send(&mut write, &Step::deny(BUSY)).await;
                    return;
                };
                if let Err(e) = svc.handle(stream).await {
                    tracing::debug!("login connection ended: {e}");
                }
            });
        }
    }

    async fn handle(&self, stream: UnixStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let Some(ModuleRequest::Start(start)) = read_request(&mut reader, FIRST_REQUEST_TIMEOUT).await? else {
            return send(&mut write, &Step::deny("HostGuard: the login dialogue did not start properly.")).await;
        };
        let mut reply = match self.client.login_start(&start).await {
            Ok(r) => r,
            Err(e) => return self.offline(&start, e, &mut reader, &mut write).await,
        };
        loop {
            send(&mut write, &reply.step).await?;
            if reply.step.is_final() {
                return Ok(());
            }
            let answer = match read_request(&mut reader, ANSWER_TIMEOUT).await? {
                Some(ModuleRequest::Answer { answer }) => answer,
                // Too slow, gone, or not the protocol: the login is over, and said so.
                _ => return send(&mut write, &Step::deny("HostGuard: the login took too long. Log in again.")).await,
            };
            reply = match self.client.login_answer(reply.login_id, &answer).await {
                Ok(r) => r,
                Err(e) if refused(&e) => {
                    return send(&mut write, &Step::deny(format!("HostGuard: the console refused the answer ({e})."))).await
                }
                Err(e) => return self.offline(&start, e, &mut reader, &mut write).await,
            };
        }
    }

    /// The console could not be reached (or broke): the fail mode decides.
    async fn offline(
        &self,
        start: &LoginStart,
        error: ApiError,
        reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
        write: &mut tokio::net::unix::OwnedWriteHalf,
    ) -> std::io::Result<()> {
        if refused(&error) {
            return send(write, &Step::deny(format!("HostGuard: the console refused this login ({error})."))).await;
        }
        tracing::warn!(account = %start.account, source_ip = %start.source_ip, "console unreachable for a login: {error}");
        let policy = self.store.policy();
        let record = |result: LoginResult, reason: &str, code: Option<Uuid>| OfflineLogin {
            id: Uuid::new_v4(),
            at: chrono::Utc::now().to_rfc3339(),
            account: clean(&start.account, 64),
            source_ip: clean(&start.source_ip, 255),
            service: clean(&start.service, 64),
            result,
            reason: reason.to_owned(),
            break_glass_id: code,
        };
        if let Some(reason) = exemption(&policy, &start.account, &start.source_ip) {
            self.record(record(LoginResult::Allowed, reason, None)).await;
            return send(write, &Step::allow()).await;
        }
        if policy.fail_mode == FailMode::Safe {
            self.record(record(LoginResult::Allowed, "fail_safe", None)).await;
            return send(
                write,
                &Step::allow().with_info(
                    "HostGuard cannot reach its console; this server lets the login in (fail mode safe) and records it.",
                ),
            )
            .await;
        }
        let used = self.store.used_break_glass();
        let usable: Vec<_> = policy.break_glass.iter().filter(|c| !used.contains(&c.id)).cloned().collect();
        if usable.is_empty() {
            self.record(record(LoginResult::Denied, "fail_secure", None)).await;
            return send(write, &Step::deny(SECURE_DENIAL)).await;
        }
        send(
            write,
            &Step::prompt("Break-glass code: ", false)
                .with_info("HostGuard cannot reach its console. Enter one of this server's break-glass codes, or try again later."),
        )
        .await?;
        let Some(ModuleRequest::Answer { answer }) = read_request(reader, ANSWER_TIMEOUT).await? else {
            return Ok(());
        };
        let hash = sha256_hex(&normalize_break_glass(&answer));
        let _guard = self.lock.lock().await;
        // Read again under the lock: two logins must not both use one code.
        let used = self.store.used_break_glass();
        match usable.iter().find(|c| c.sha256 == hash && !used.contains(&c.id)) {
            Some(code) => {
                // Written down before the login gets in, so a crash cannot make it reusable.
                if let Err(e) = self.store.mark_break_glass_used(code.id) {
                    tracing::error!("cannot record the break-glass code as used: {e}");
                    return send(write, &Step::deny("HostGuard: the break-glass code could not be recorded; login refused.")).await;
                }
                drop(_guard);
                self.record(record(LoginResult::Allowed, "break_glass", Some(code.id))).await;
                send(write, &Step::allow().with_info("Break-glass code accepted; it cannot be used again.")).await
            }
            None => {
                drop(_guard);
                self.record(record(LoginResult::Denied, "break_glass_wrong", None)).await;
                send(write, &Step::deny("HostGuard: that is not an unused break-glass code of this server.")).await
            }
        }
    }

    async fn record(&self, login: OfflineLogin) {
        tracing::warn!(account = %login.account, source_ip = %login.source_ip, result = %login.result, reason = %login.reason, "login decided without the console");
        let _guard = self.lock.lock().await;
        if let Err(e) = self.store.queue(login) {
            tracing::error!("cannot queue an offline login for reporting: {e}");
        }
    }
}

const BUSY: &str = "HostGuard: too many logins are in progress on this server. Try again in a moment.";

const SECURE_DENIAL: &str =
    "HostGuard cannot reach its console, and this server's fail mode is secure: the login is refused. Try again later.";

/// Answers that are the console's decision, not a sign that it is unreachable: a 404 (the login
/// is not this server's, or gone), a 409 or 422 (bad input), a 429 (too many logins); and an
/// answer that arrived but cannot be read (say, a step this agent is too old to know). Those
/// are refused; only an unreachable or failing console hands the login to the fail mode.
fn refused(e: &ApiError) -> bool {
    matches!(e, ApiError::Status { status: 404 | 409 | 422 | 429, .. } | ApiError::BadResponse { .. })
}

/// The policy as the agent keeps it: a console (or whoever answers in its name) cannot exempt
/// every address, or hand over lists without end.
fn sane(mut p: LoginPolicy) -> LoginPolicy {
    p.exempt_networks.retain(|n| n.parse::<ipnet::IpNet>().is_ok_and(|n| n.prefix_len() > 0));
    p.exempt_networks.truncate(100);
    p.exempt_accounts.truncate(100);
    p.break_glass.retain(|c| c.sha256.len() == 64 && c.sha256.chars().all(|c| c.is_ascii_hexdigit()));
    p.break_glass.truncate(100);
    p
}

/// A PAM item as the console accepts it in a report: no control characters, not too long.
fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn exemption(policy: &LoginPolicy, account: &str, source_ip: &str) -> Option<&'static str> {
    if policy.exempt_accounts.iter().any(|a| a == account) {
        return Some("exempt_account");
    }
    let ip: IpAddr = source_ip.parse().ok()?;
    policy
        .exempt_networks
        .iter()
        .filter_map(|n| n.parse::<ipnet::IpNet>().ok())
        .any(|n| n.contains(&ip))
        .then_some("exempt_network")
}

pub use proto::login::normalize_break_glass;

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads one JSON line; `None` when the peer closed, timed out, or sent something else.
async fn read_request(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    timeout: Duration,
) -> std::io::Result<Option<ModuleRequest>> {
    let mut line = Vec::new();
    let read = async {
        use tokio::io::AsyncReadExt;
        let mut limited = (&mut *reader).take(MAX_LINE_BYTES as u64 + 1);
        limited.read_until(b'\n', &mut line).await
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(0)) | Err(_) => Ok(None),
        Ok(Ok(_)) if line.len() > MAX_LINE_BYTES || !line.ends_with(b"\n") => Ok(None),
        Ok(Ok(_)) => Ok(serde_json::from_slice(&line).ok()),
        Ok(Err(e)) => Err(e),
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, step: &Step) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(step).map_err(std::io::Error::other)?;
    if line.len() >= MAX_LINE_BYTES {
        // The module would take it for garbage, and so for the fail mode.
        tracing::warn!(bytes = line.len(), "a step from the console is too long for the module; refusing the login");
        line = serde_json::to_vec(&Step::deny("HostGuard: the console's answer was too long. Login refused."))
            .map_err(std::io::Error::other)?;
    }
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await
}

/// Binds the login socket: its directory is created root-only (0700), a stale socket is
/// replaced, and the socket itself is 0600.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        // Not a symlink someone else planted, and root's alone.
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a directory", dir.display())));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    files::remove_if_exists(path)?;
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Rewrites the `fail_mode=` line of the PAM module's settings, if 2FA is on (the file exists).
fn set_fail_mode(pam_conf: &Path, mode: FailMode) -> std::io::Result<()> {
    let Some(bytes) = files::read_optional(pam_conf)? else { return Ok(()) };
    let text = String::from_utf8_lossy(&bytes);
    let wanted = format!("fail_mode={mode}");
    if text.lines().any(|l| l.trim() == wanted) {
        return Ok(());
    }
    let mut out: String =
        text.lines().filter(|l| !l.trim_start().starts_with("fail_mode=")).map(|l| format!("{l}\n")).collect();
    out.push_str(&wanted);
    out.push('\n');
    files::write_atomic(pam_conf, out.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_cannot_exempt_everyone_or_grow_without_end() {
        let p = sane(LoginPolicy {
            exempt_networks: vec!["0.0.0.0/0".into(), "::/0".into(), "10.0.0.0/8".into(), "junk".into()],
            exempt_accounts: (0..500).map(|i| format!("a{i}")).collect(),
            break_glass: vec![
                proto::login::BreakGlassHash { id: Uuid::nil(), sha256: "x".into() },
                proto::login::BreakGlassHash { id: Uuid::nil(), sha256: "a".repeat(64) },
            ],
            ..Default::default()
        });
        assert_eq!(p.exempt_networks, ["10.0.0.0/8"]);
        assert_eq!(p.exempt_accounts.len(), 100);
        assert_eq!(p.break_glass.len(), 1);
        assert_eq!(clean("ro\u{1b}[2Jot", 64), "ro[2Jot");
        assert_eq!(clean(&"a".repeat(100), 64).len(), 64);
    }

    #[test]
    fn exemptions_offline_match_the_consoles() {
        let p = LoginPolicy {
            exempt_accounts: vec!["backup".into()],
            exempt_networks: vec!["10.1.0.0/16".into(), "garbage".into()],
            ..Default::default()
        };
        assert_eq!(exemption(&p, "backup", ""), Some("exempt_account"));
        assert_eq!(exemption(&p, "root", "10.1.9.9"), Some("exempt_network"));
        assert_eq!(exemption(&p, "root", "10.2.9.9"), None);
        assert_eq!(exemption(&p, "root", "host.example"), None);
    }

    #[test]
    fn break_glass_codes_are_hashed_as_the_console_hashes_them() {
        // The console keeps SHA-256 (hex) of the code in upper case without separators.
        assert_eq!(sha256_hex(&normalize_break_glass("a-b c")), "b5d4045c3f466fa91fe2cc6abe79232a1a57cdf104f7a26e716e0a1e2789df78");
    }

    #[test]
    fn fail_mode_line_follows_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("pam.conf");
        set_fail_mode(&conf, FailMode::Safe).unwrap();
        assert!(!conf.exists(), "no file while 2FA is off");
        std::fs::write(&conf, "console_url=https://c\nfail_mode=secure\nrevision=3\n").unwrap();
        set_fail_mode(&conf, FailMode::Safe).unwrap();
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "console_url=https://c\nrevision=3\nfail_mode=safe\n");
    }
}
