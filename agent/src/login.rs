//! The agent's side of the login dialogue: a Unix socket that only root can use, where the PAM
//! module opens a login and passes the user's answers. The agent hands each to the console and
//! passes back the console's next step. Only a proven outage hands a login to the server's fail
//! mode (see [`ApiError::possible_outage`] and [`LoginService::judge`]); then it decides from the
//! login policy the agent keeps on disk: exempt accounts and networks pass, `safe` allows (a few
//! per account and source) and `secure` denies unless the user has a break-glass code. Logins
//! decided that way are recorded locally and reported once the console is back.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::exempt::{self, Network};
use proto::login::{
    FailMode, LoginPolicy, LoginReason, LoginResult, LoginStart, ModuleRequest, OfflineLogin, OfflineReport, Step,
    MAX_LINE_BYTES,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;
use uuid::Uuid;

use crate::api::{ApiClient, ApiError};
use crate::files;

/// Logins handled at once; more are refused at once (see [`LoginService::serve`]).
const MAX_CONCURRENT_LOGINS: usize = 64;
/// How long the module has to send its first request.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The module's deadline as it may be configured (`timeout=`, 30–600 s); a module that does not
/// send its deadline is waited for as long as the longest.
const MODULE_DEADLINE_SECS: std::ops::RangeInclusive<u64> = 30..=600;
/// Added to the module's deadline: it sends whole seconds, rounded down, and waiting a little
/// longer than the module costs nothing (the module gives up first and says so).
const DEADLINE_SLACK: Duration = Duration::from_secs(5);
/// After the last step, how long the agent keeps reading (and discarding) what the module still
/// sends before it closes; see [`Conn::finish`].
const LINGER: Duration = Duration::from_secs(1);
/// Offline logins kept for reporting; past this, the oldest that used no break-glass code go.
const MAX_QUEUED: usize = 10_000;
/// Safe-mode allows are counted over this window ...
pub const FAIL_SAFE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// ... and at most this many are given to one account ...
pub const FAIL_SAFE_PER_ACCOUNT: usize = 3;
/// ... and to one source address (all accounts together); past either, the login is denied.
pub const FAIL_SAFE_PER_SOURCE: usize = 10;
/// Safe-mode allows kept at most (the newest), however many accounts and sources there are.
const MAX_FAIL_SAFE_KEPT: usize = 10_000;

const POLICY_FILE: &str = "login-policy.json";
const BREAK_GLASS_FILE: &str = "break-glass-used.json";
/// One offline login per line, appended; rewritten whole only after a report or an eviction.
const QUEUE_FILE: &str = "offline-logins.jsonl";
/// The queue as agents before the append-only file kept it (one JSON array); read, then replaced.
const LEGACY_QUEUE_FILE: &str = "offline-logins.json";
const FAIL_SAFE_FILE: &str = "fail-safe-allows.json";

/// A safe-mode allow, kept to count them per account and source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailSafeAllow {
    /// Unix seconds.
    pub at: i64,
    pub account: String,
    pub source_ip: String,
}

/// What the agent keeps on disk for logins, all root-only (0600). Its methods do blocking file
/// I/O: the service calls them through [`blocking`], never on the runtime's thread.
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

    /// For files whose loss would open the door (the used break-glass codes, the safe-mode
    /// count): only a missing file is empty; one that cannot be read or parsed is an error, so
    /// the caller refuses instead of starting over (and making used codes work again).
    fn read_strict<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> std::io::Result<T> {
        let path = self.path(name);
        match files::read_optional(&path)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is unreadable: {e}", path.display()))
            }),
            None => Ok(T::default()),
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

    /// The break-glass codes used offline; an error when the record cannot be read.
    pub fn used_break_glass(&self) -> std::io::Result<Vec<Uuid>> {
        self.read_strict(BREAK_GLASS_FILE)
    }

    /// Never rewrites a record it cannot read: that would forget the codes already used.
    fn mark_break_glass_used(&self, id: Uuid) -> std::io::Result<()> {
        let mut used = self.used_break_glass()?;
        used.push(id);
        self.write(BREAK_GLASS_FILE, &used)
    }

    /// The offline logins waiting to be reported, oldest first.
    pub fn queued(&self) -> Vec<OfflineLogin> {
        self.load_queue().0
    }

    /// The queue, and whether its files need rewriting (a torn last line after a crash, or the
    /// legacy file still there).
    fn load_queue(&self) -> (Vec<OfflineLogin>, bool) {
        let legacy: Option<Vec<OfflineLogin>> =
            self.path(LEGACY_QUEUE_FILE).exists().then(|| self.read(LEGACY_QUEUE_FILE));
        let mut untidy = legacy.is_some();
        let mut queue = legacy.unwrap_or_default();
        match files::read_optional(&self.path(QUEUE_FILE)) {
            Ok(Some(bytes)) => {
                for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    match serde_json::from_slice(line) {
                        Ok(login) => queue.push(login),
                        Err(_) => untidy = true,
                    }
                }
                untidy |= !bytes.is_empty() && !bytes.ends_with(b"\n");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot read {}: {e}", self.path(QUEUE_FILE).display()),
        }
        (queue, untidy)
    }

    fn append_queued(&self, login: &OfflineLogin) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut line = serde_json::to_vec(login).map_err(std::io::Error::other)?;
        line.push(b'\n');
        std::fs::create_dir_all(&self.dir)?;
        let mut f = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(self.path(QUEUE_FILE))?;
        f.write_all(&line)?;
        f.sync_data()
    }

    fn rewrite_queue(&self, queue: &[OfflineLogin]) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        for login in queue {
            serde_json::to_writer(&mut bytes, login).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
        }
        files::write_atomic(&self.path(QUEUE_FILE), &bytes, 0o600)?;
        files::remove_if_exists(&self.path(LEGACY_QUEUE_FILE))
    }

    /// The safe-mode allows counted; an error when the count cannot be read.
    pub fn fail_safe_allows(&self) -> std::io::Result<Vec<FailSafeAllow>> {
        self.read_strict(FAIL_SAFE_FILE)
    }

    fn save_fail_safe_allows(&self, allows: &[FailSafeAllow]) -> std::io::Result<()> {
        self.write(FAIL_SAFE_FILE, &allows)
    }
}

/// Runs blocking file work off the runtime's thread, so the socket keeps being served meanwhile.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(std::io::Error::other)
}

/// Drops the oldest offline logins past `max`, never one that used a break-glass code (the
/// console must learn that the code is spent). Returns how many went.
fn evict(queue: &mut Vec<OfflineLogin>, max: usize) -> usize {
    let mut excess = queue.len().saturating_sub(max);
    let before = queue.len();
    queue.retain(|l| {
        if excess > 0 && l.break_glass_id.is_none() {
            excess -= 1;
            false
        } else {
            true
        }
    });
    before - queue.len()
}

/// The key a source is counted under for the safe-mode limit: an IPv4 address (IPv4-mapped IPv6
/// folded to it), or an IPv6 address's /64 (one host usually holds a whole /64). Anything that
/// is not an address shares one key, so spelling a source differently cannot earn more allows.
fn source_key(source_ip: &str) -> String {
    match source_ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => Network::new(IpAddr::V6(v6), 64).map_or_else(|| v6.to_string(), |n| n.to_string()),
        },
        Err(_) => "not-an-address".to_owned(),
    }
}

/// Whether one more safe-mode allow for `account` from `source_ip` stays within the limits at
/// `now` (Unix seconds); `allows` loses the ones that left the window.
fn fail_safe_allowed(allows: &mut Vec<FailSafeAllow>, account: &str, source_ip: &str, now: i64) -> bool {
    let window = FAIL_SAFE_WINDOW.as_secs() as i64;
    allows.retain(|a| a.at > now - window);
    let excess = allows.len().saturating_sub(MAX_FAIL_SAFE_KEPT);
    allows.drain(..excess);
    let by_account = allows.iter().filter(|a| a.account == account).count();
    let source = source_key(source_ip);
    let by_source = allows.iter().filter(|a| source_key(&a.source_ip) == source).count();
    by_account < FAIL_SAFE_PER_ACCOUNT && by_source < FAIL_SAFE_PER_SOURCE
}

/// Why the console had no say in a login.
enum Offline {
    /// It could not be reached, and a probe could not reach it either.
    Outage(ApiError),
    /// It answers, but rejects this agent's credential: decided as in fail mode secure, whatever
    /// the policy says (a console that answers is not down).
    CredentialRejected,
}

/// What a failed console call means for the login.
enum Judged {
    Refused(ApiError),
    Offline(Offline),
}

/// The files the service changes, behind one lock.
struct Files {
    /// The offline queue, loaded on first use.
    queue: Option<Vec<OfflineLogin>>,
}

/// Handles logins for one registered agent.
pub struct LoginService {
    client: ApiClient,
    store: LoginStore,
    /// Serializes changes to the files of [`LoginStore`].
    files: Mutex<Files>,
    slots: Semaphore,
    /// The PAM module's settings file, whose `fail_mode=` line follows the policy.
    pam_conf: PathBuf,
    /// Set by the daemon while the console rejects the agent's credential.
    credential_rejected: AtomicBool,
}

impl LoginService {
    pub fn new(client: ApiClient, store: LoginStore, pam_conf: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            client,
            store,
            files: Mutex::new(Files { queue: None }),
            slots: Semaphore::new(MAX_CONCURRENT_LOGINS),
            pam_conf,
            credential_rejected: AtomicBool::new(false),
        })
    }

    /// While set, logins do not ask the console: they are decided from the stored policy as in
    /// fail mode secure (exemptions and break-glass codes work, nothing else does).
    pub fn set_credential_rejected(&self, rejected: bool) {
        self.credential_rejected.store(rejected, Ordering::SeqCst);
    }

    pub fn credential_rejected(&self) -> bool {
        self.credential_rejected.load(Ordering::SeqCst)
    }

    /// Fetches the login policy, keeps it on disk, and points the PAM module's fail mode at it.
    pub async fn refresh_policy(&self) -> Result<(), ApiError> {
        let policy = sane(self.client.login_policy().await?);
        let _guard = self.files.lock().await;
        let (store, pam_conf) = (self.store.clone(), self.pam_conf.clone());
        let done = blocking(move || {
            if policy != store.policy() || !store.path(POLICY_FILE).exists() {
                if let Err(e) = store.save_policy(&policy) {
                    tracing::error!("cannot keep the login policy: {e}");
                }
            }
            if let Err(e) = crate::pam_conf::set_fail_mode(&pam_conf, policy.fail_mode) {
                tracing::error!("cannot update the fail mode in {}: {e}", pam_conf.display());
            }
        })
        .await;
        if let Err(e) = done {
            tracing::error!("keeping the login policy failed: {e}");
        }
        Ok(())
    }

    /// The offline queue, loaded (and tidied) on first use.
    async fn queue<'a>(&self, files: &'a mut Files) -> &'a mut Vec<OfflineLogin> {
        if files.queue.is_none() {
            let store = self.store.clone();
            let loaded = blocking(move || {
                let (queue, untidy) = store.load_queue();
                if untidy {
                    if let Err(e) = store.rewrite_queue(&queue) {
                        tracing::error!("cannot tidy the offline login queue: {e}");
                    }
                }
                queue
            })
            .await;
            files.queue = Some(loaded.unwrap_or_else(|e| {
                tracing::error!("cannot load the offline login queue: {e}");
                Vec::new()
            }));
        }
        files.queue.get_or_insert_with(Vec::new)
    }

    /// Reports the logins decided while the console was unreachable; they stay queued until it
    /// has them. A report the console refuses as too large or malformed (413, 422) or as too
    /// much at once (429) is split in halves, each sent again; only a single login refused as
    /// malformed or too large is dropped (logged), and a single one refused with 429 waits for
    /// the next flush.
    pub async fn flush_offline(&self) -> Result<usize, ApiError> {
        let queued = {
            let mut files = self.files.lock().await;
            self.queue(&mut files).await.clone()
        };
        if queued.is_empty() {
            return Ok(0);
        }
        // A stack of chunks: the oldest on top, and a split chunk's first half before its second.
        let mut pending: Vec<Vec<OfflineLogin>> = queued.chunks(200).rev().map(<[_]>::to_vec).collect();
        let mut done: Vec<Uuid> = Vec::new();
        let mut result = Ok(());
        while let Some(chunk) = pending.pop() {
            match self.client.report_offline(&OfflineReport { logins: chunk.clone() }).await {
                Ok(()) => done.extend(chunk.iter().map(|l| l.id)),
                Err(ApiError::Status { status: 413 | 422 | 429, .. }) if chunk.len() > 1 => {
                    let (first, second) = chunk.split_at(chunk.len() / 2);
                    pending.push(second.to_vec());
                    pending.push(first.to_vec());
                }
                Err(e @ ApiError::Status { status: 413 | 422, .. }) => {
                    tracing::error!(id = %chunk[0].id, account = %chunk[0].account, "the console refused an offline login ({e}); dropping it");
                    done.push(chunk[0].id);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if !done.is_empty() {
            let mut files = self.files.lock().await;
            let queue = self.queue(&mut files).await;
            queue.retain(|l| !done.contains(&l.id));
            let (store, rest) = (self.store.clone(), queue.clone());
            match blocking(move || store.rewrite_queue(&rest)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) | Err(e) => tracing::error!("cannot update the offline login queue: {e}"),
            }
            tracing::info!(count = done.len(), "reported logins decided while the console was unreachable");
        }
        result.map(|()| done.len())
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
                let mut conn = Conn::new(stream);
                // Full: say no at once. Waiting would let whoever holds the slots run the other
                // logins into the module's deadline, and so into its fail mode.
                let Ok(_slot) = svc.slots.try_acquire() else {
                    tracing::warn!("{MAX_CONCURRENT_LOGINS} logins are already in progress; refusing another");
                    // Read the start first: a refusal sent before it would make the module's
                    // send fail, which it takes for a broken agent (its fail mode).
                    let _ = conn.read(Instant::now() + FIRST_REQUEST_TIMEOUT).await;
                    let _ = conn.finish(&Step::deny(BUSY)).await;
                    return;
                };
                if let Err(e) = svc.handle(conn).await {
                    tracing::debug!("login connection ended: {e}");
                }
            });
        }
    }

    async fn handle(&self, mut conn: Conn) -> std::io::Result<()> {
        let Some(ModuleRequest::Start(start)) = conn.read(Instant::now() + FIRST_REQUEST_TIMEOUT).await? else {
            return conn.finish(&Step::deny("HostGuard: the login dialogue did not start properly.")).await;
        };
        let deadline = Instant::now() + module_wait(start.timeout_secs);
        let module_deadline = Instant::now() + module_deadline(start.timeout_secs);
        if self.credential_rejected() {
            return self.offline(&start, Offline::CredentialRejected, conn, deadline).await;
        }
        let mut reply = match self.client.login_start(&start).await {
            Ok(r) => r,
            Err(e) => return self.console_failed(&start, e, conn, deadline).await,
        };
        loop {
            let step = fit(reply.step);
            if step.is_final() {
                return conn.finish(&step).await;
            }
            conn.send(&step).await?;
            let answer = match conn.read(deadline).await? {
                Some(ModuleRequest::Answer { answer }) => answer,
                // Too slow, gone, or not the protocol: the login is over, and said so.
                _ => return conn.finish(&Step::deny(TOO_LONG)).await,
            };
            let mut asked = Instant::now();
            reply = match self.client.login_answer(reply.login_id, &answer).await {
                Ok(r) => r,
                Err(e) => return self.console_failed(&start, e, conn, deadline).await,
            };
            // A push still pending after the console held the call: ask again (an empty
            // answer waits) while another held call fits before the module gives up, then deny
            // before it does: a login the module times out on is never let in, but a clear
            // refusal is better than silence.
            while reply.ask_again {
                if Instant::now() + crate::api::LOGIN_CALL_TIMEOUT + PUSH_MARGIN > module_deadline {
                    return conn.finish(&Step::deny(PUSH_TOO_LONG)).await;
                }
                // The console holds each call; one that answers at once is not asked in a loop.
                tokio::time::sleep_until(asked + MIN_ASK_INTERVAL).await;
                asked = Instant::now();
                reply = match self.client.login_answer(reply.login_id, "").await {
                    Ok(r) => r,
                    Err(e) => return self.console_failed(&start, e, conn, deadline).await,
                };
            }
        }
    }

    /// A login call failed: a refusal denies, a proven outage goes to the fail mode.
    async fn console_failed(
        &self,
        start: &LoginStart,
        e: ApiError,
        conn: Conn,
        deadline: Instant,
    ) -> std::io::Result<()> {
        match self.judge(e).await {
            Judged::Refused(e) => {
                tracing::warn!(account = %start.account, source_ip = %start.source_ip, "the console refused a login: {e}");
                conn.finish(&Step::deny(format!("HostGuard: the console refused this login ({e})."))).await
            }
            Judged::Offline(why) => self.offline(start, why, conn, deadline).await,
        }
    }

    /// The outage rule (docs/login-protocol.md §4.2): a failed login call counts as an outage
    /// only if it may be one ([`ApiError::possible_outage`]) and a quick probe along the same
    /// path fails that way too. Whatever answers the probe is up, and the failed call was its
    /// refusal. A 401 that the probe gets too is a rejected credential, never an outage.
    async fn judge(&self, e: ApiError) -> Judged {
        if e.possible_outage() {
            return match self.client.probe().await {
                Err(p) if p.possible_outage() => Judged::Offline(Offline::Outage(e)),
                Ok(()) | Err(_) => {
                    tracing::warn!(
                        "a login call failed ({e}) but the console answers its probe: a refusal, not an outage"
                    );
                    Judged::Refused(e)
                }
            };
        }
        if e.is_unauthorized() {
            if let Err(p) = self.client.probe().await {
                if p.is_unauthorized() {
                    return Judged::Offline(Offline::CredentialRejected);
                }
            }
        }
        Judged::Refused(e)
    }

    /// The console had no say: the stored policy decides.
    async fn offline(
        &self,
        start: &LoginStart,
        why: Offline,
        mut conn: Conn,
        deadline: Instant,
    ) -> std::io::Result<()> {
        match &why {
            Offline::Outage(error) => {
                tracing::warn!(account = %start.account, source_ip = %start.source_ip, "console unreachable for a login: {error}")
            }
            Offline::CredentialRejected => {
                tracing::error!(account = %start.account, source_ip = %start.source_ip, "{CREDENTIAL_REJECTED_LOG}")
            }
        }
        let store = self.store.clone();
        let policy = blocking(move || store.policy()).await?;
        let fail_mode = match why {
            Offline::Outage(_) => policy.fail_mode,
            Offline::CredentialRejected => FailMode::Secure,
        };
        let record = |result: LoginResult, reason: LoginReason, code: Option<Uuid>| OfflineLogin {
            id: Uuid::new_v4(),
            at: chrono::Utc::now().to_rfc3339(),
            account: clean(&start.account, 64),
            source_ip: clean(&start.source_ip, 255),
            service: clean(&start.service, 64),
            result,
            reason: reason.into(),
            break_glass_id: code,
        };
        if let Some(reason) = exemption(&policy, &start.account, &start.source_ip) {
            self.record(record(LoginResult::Allowed, reason, None)).await;
            return conn.finish(&Step::allow()).await;
        }
        if fail_mode == FailMode::Safe {
            if !self.take_fail_safe_allow(&start.account, &start.source_ip).await {
                self.record(record(LoginResult::Denied, LoginReason::FailSafeLimited, None)).await;
                return conn.finish(&Step::deny(FAIL_SAFE_LIMITED)).await;
            }
            self.record(record(LoginResult::Allowed, LoginReason::FailSafe, None)).await;
            return conn
                .finish(&Step::allow().with_info(
                    "HostGuard cannot reach its console; this server lets the login in (fail mode safe) and records it.",
                ))
                .await;
        }
        let (denial, info) = match why {
            Offline::Outage(_) => (
                SECURE_DENIAL,
                "HostGuard cannot reach its console. Enter one of this server's break-glass codes, or try again later.",
            ),
            Offline::CredentialRejected => (
                REJECTED_DENIAL,
                "HostGuard's console does not accept this server's agent. Enter one of this server's break-glass codes.",
            ),
        };
        let store = self.store.clone();
        let used = match blocking(move || store.used_break_glass()).await? {
            Ok(used) => used,
            Err(e) => {
                let login = record(LoginResult::Denied, LoginReason::FailSecure, None);
                return self.break_glass_unreadable(e, login, conn).await;
            }
        };
        let usable: Vec<_> = policy.break_glass.iter().filter(|c| !used.contains(&c.id)).cloned().collect();
        if usable.is_empty() {
            self.record(record(LoginResult::Denied, LoginReason::FailSecure, None)).await;
            return conn.finish(&Step::deny(denial)).await;
        }
        conn.send(&Step::prompt("Break-glass code: ", false).with_info(info)).await?;
        let Some(ModuleRequest::Answer { answer }) = conn.read(deadline).await? else {
            return conn.finish(&Step::deny(TOO_LONG)).await;
        };
        let hash = sha256_hex(&normalize_break_glass(&answer));
        let guard = self.files.lock().await;
        // Read again under the lock: two logins must not both use one code.
        let store = self.store.clone();
        let used = match blocking(move || store.used_break_glass()).await? {
            Ok(used) => used,
            Err(e) => {
                drop(guard);
                let login = record(LoginResult::Denied, LoginReason::FailSecure, None);
                return self.break_glass_unreadable(e, login, conn).await;
            }
        };
        match usable.iter().find(|c| c.sha256 == hash && !used.contains(&c.id)) {
            Some(code) => {
                // Written down before the login gets in, so a crash cannot make it reusable.
                let (store, id) = (self.store.clone(), code.id);
                match blocking(move || store.mark_break_glass_used(id)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) | Err(e) => {
                        tracing::error!("cannot record the break-glass code as used: {e}");
                        return conn
                            .finish(&Step::deny(
                                "HostGuard: the break-glass code could not be recorded; login refused.",
                            ))
                            .await;
                    }
                }
                drop(guard);
                self.record(record(LoginResult::Allowed, LoginReason::BreakGlass, Some(code.id))).await;
                conn.finish(&Step::allow().with_info("Break-glass code accepted; it cannot be used again.")).await
            }
            None => {
                drop(guard);
                self.record(record(LoginResult::Denied, LoginReason::BreakGlassWrong, None)).await;
                conn.finish(&Step::deny("HostGuard: that is not an unused break-glass code of this server.")).await
            }
        }
    }

    /// The record of used codes cannot be read: no code can be trusted unused, so deny (and leave
    /// the file alone for the operator to look at).
    async fn break_glass_unreadable(&self, e: std::io::Error, login: OfflineLogin, conn: Conn) -> std::io::Result<()> {
        tracing::error!("cannot read the used break-glass codes ({e}); login refused");
        self.record(login).await;
        conn.finish(&Step::deny(BREAK_GLASS_UNREADABLE)).await
    }

    /// Counts a safe-mode allow, on disk before the login gets in (a restart must not reset the
    /// count); false past the limits, or when the count cannot be kept.
    async fn take_fail_safe_allow(&self, account: &str, source_ip: &str) -> bool {
        let _guard = self.files.lock().await;
        let (store, account, source_ip) = (self.store.clone(), account.to_owned(), source_ip.to_owned());
        let taken = blocking(move || {
            // A count that cannot be read is not zero: refused (below) rather than reset.
            let mut allows = store.fail_safe_allows()?;
            let now = chrono::Utc::now().timestamp();
            if !fail_safe_allowed(&mut allows, &account, &source_ip, now) {
                tracing::warn!(%account, %source_ip, "fail mode safe: the limit of logins without the console is reached; refused");
                return Ok(false);
            }
            allows.push(FailSafeAllow { at: now, account, source_ip });
            store.save_fail_safe_allows(&allows).map(|()| true)
        })
        .await;
        match taken {
            Ok(Ok(taken)) => taken,
            Ok(Err(e)) | Err(e) => {
                tracing::error!("cannot count a safe-mode allow ({e}); refused");
                false
            }
        }
    }

    async fn record(&self, login: OfflineLogin) {
        tracing::warn!(account = %login.account, source_ip = %login.source_ip, result = %login.result, reason = %login.reason, "login decided without the console");
        let mut files = self.files.lock().await;
        let queue = self.queue(&mut files).await;
        queue.push(login.clone());
        let store = self.store.clone();
        let written = if queue.len() > MAX_QUEUED {
            let dropped = evict(queue, MAX_QUEUED);
            tracing::warn!(
                "more than {MAX_QUEUED} offline logins are waiting to be reported; dropped the oldest {dropped}"
            );
            let rest = queue.clone();
            blocking(move || store.rewrite_queue(&rest)).await
        } else {
            blocking(move || store.append_queued(&login)).await
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => tracing::error!("cannot queue an offline login for reporting: {e}"),
        }
    }
}

/// One login's connection to the module.
struct Conn {
    reader: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Conn {
    fn new(stream: UnixStream) -> Self {
        let (read, write) = stream.into_split();
        Self { reader: BufReader::new(read), write }
    }

    /// Reads one JSON line; `None` when the peer closed, `until` passed, or it sent something else.
    async fn read(&mut self, until: Instant) -> std::io::Result<Option<ModuleRequest>> {
        read_request(&mut self.reader, until).await
    }

    /// Every step leaves through here, fitted to one line: a longer one would be garbage to the
    /// module (a refusal there too, but one that says nothing useful).
    async fn send(&mut self, step: &Step) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&fit(step.clone())).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.write.write_all(&line).await?;
        self.write.flush().await
    }

    /// Sends the last step and closes so that the module can read it: our side first, then what
    /// the module still sends is read and discarded until it hangs up (for at most [`LINGER`]).
    /// Closing with its bytes unread would reset the connection, and a module racing to send
    /// would then lose the step it had not read yet.
    async fn finish(mut self, step: &Step) -> std::io::Result<()> {
        self.send(step).await?;
        self.write.shutdown().await?;
        let mut reader = self.reader;
        let drain = async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
        Ok(())
    }
}

/// Reads one request line of the socket's protocol from `reader`: `None` when the peer closed,
/// `until` passed, or it sent something else (too long, no newline, not a request). Public for
/// the fuzz targets.
pub async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    until: Instant,
) -> std::io::Result<Option<ModuleRequest>> {
    let mut line = Vec::new();
    let read = async {
        let mut limited = reader.take(MAX_LINE_BYTES as u64 + 1);
        limited.read_until(b'\n', &mut line).await
    };
    match tokio::time::timeout_at(until, read).await {
        Ok(Ok(0)) | Err(_) => Ok(None),
        Ok(Ok(_)) if line.len() > MAX_LINE_BYTES || !line.ends_with(b"\n") => Ok(None),
        Ok(Ok(_)) => Ok(serde_json::from_slice(&line).ok()),
        Ok(Err(e)) => Err(e),
    }
}

/// How long the agent waits for the module's user: as long as the module's own deadline, never
/// less (a module still waiting must get the agent's last word, not a hang-up).
fn module_wait(timeout_secs: Option<u64>) -> Duration {
    let (min, max) = (*MODULE_DEADLINE_SECS.start(), *MODULE_DEADLINE_SECS.end());
    Duration::from_secs(timeout_secs.unwrap_or(max).clamp(min, max)) + DEADLINE_SLACK
}

/// When the module gives up on the login: its deadline as sent in `start` (whole seconds, rounded
/// up), or, from an older module that does not send it, the default.
fn module_deadline(timeout_secs: Option<u64>) -> Duration {
    let (min, max) = (*MODULE_DEADLINE_SECS.start(), *MODULE_DEADLINE_SECS.end());
    Duration::from_secs(timeout_secs.unwrap_or(proto::login::DEFAULT_LOGIN_TIMEOUT_SECS).clamp(min, max))
}

/// Kept free before the module's deadline when waiting for a push, so the refusal reaches it.
const PUSH_MARGIN: Duration = Duration::from_secs(2);
/// The least time between two asks of one login while it waits for a push.
const MIN_ASK_INTERVAL: Duration = Duration::from_secs(1);

/// A step the module can take in one line; a longer one becomes a refusal (the module would read
/// it as garbage; older modules took that for their fail mode).
pub fn fit(step: Step) -> Step {
    match serde_json::to_vec(&step) {
        Ok(line) if line.len() < MAX_LINE_BYTES => step,
        _ => {
            tracing::warn!("a step is too long for the module; refusing the login");
            Step::deny(STEP_TOO_LONG)
        }
    }
}

const STEP_TOO_LONG: &str = "HostGuard: the console's answer was too long. Login refused.";

const BREAK_GLASS_UNREADABLE: &str =
    "HostGuard cannot reach its console, and this server's record of used break-glass \
     codes cannot be read, so no code can be accepted. Login refused.";

const TOO_LONG: &str = "HostGuard: the login took too long. Log in again.";
const PUSH_TOO_LONG: &str = "HostGuard: the push was not approved in time. Log in again.";

const FAIL_SAFE_LIMITED: &str =
    "HostGuard cannot reach its console, and this server has let in as many logins without \
     it as it may for now (fail mode safe). The login is refused; try again later.";

const REJECTED_DENIAL: &str = "HostGuard: the console does not accept this server's agent (its credential was \
     rejected), so only break-glass codes and exemptions work. Login refused.";

/// What the log says, each time, while the console rejects the agent's credential.
pub const CREDENTIAL_REJECTED_LOG: &str = "the console rejects this agent's credential (HTTP 401): logins are decided \
     from the stored policy as in fail mode secure (exemptions and break-glass codes only). Fix: re-install the agent \
     with a new install token from the server's page in the console";

const BUSY: &str = "HostGuard: too many logins are in progress on this server. Try again in a moment.";

const SECURE_DENIAL: &str =
    "HostGuard cannot reach its console, and this server's fail mode is secure: the login is refused. Try again later.";

/// The policy as the agent keeps it: a console (or whoever answers in its name) cannot exempt
/// every address, or hand over lists without end.
pub fn sane(mut p: LoginPolicy) -> LoginPolicy {
    p.exempt_networks.retain(|n| Network::parse(n).is_some_and(|n| n.prefix_len() >= exempt::MIN_EXEMPT_PREFIX));
    p.exempt_networks.truncate(100);
    // Networks that together cover a whole address family exempt all of it: drop that family's.
    let nets: Vec<Network> = p.exempt_networks.iter().filter_map(|n| Network::parse(n)).collect();
    for family in exempt::families_covered(&nets) {
        tracing::warn!("the login policy's exempt networks together cover every address; ignoring them");
        p.exempt_networks.retain(|n| Network::parse(n).is_some_and(|n| n.family() != family));
    }
    p.exempt_accounts.truncate(100);
    p.break_glass.retain(|c| c.sha256.len() == 64 && c.sha256.chars().all(|c| c.is_ascii_hexdigit()));
    p.break_glass.truncate(100);
    p
}

/// A PAM item as the console accepts it in a report: no control characters, not too long.
fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The console's exemption rules, on the stored policy.
fn exemption(policy: &LoginPolicy, account: &str, source_ip: &str) -> Option<LoginReason> {
    let networks: Vec<Network> = policy.exempt_networks.iter().filter_map(|n| Network::parse(n)).collect();
    exempt::exemption(&policy.exempt_accounts, &networks, account, source_ip).map(|e| e.reason())
}

pub use proto::login::normalize_break_glass;

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Binds the login socket. Its directory is created root-only (0700); one that exists must be
/// root's and writable by nobody else (whoever else could write there could swap the socket for
/// their own, and answer the module's logins), else the agent refuses to start. A stale socket is
/// replaced, and the socket itself is 0600.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a directory", dir.display())));
        }
        if meta.uid() != 0 {
            return Err(std::io::Error::other(format!(
                "the socket directory {} belongs to uid {}, not root: refusing to listen there (remove it, or \
                 `chown root:root` it, and start the agent again)",
                dir.display(),
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(std::io::Error::other(format!(
                "the socket directory {} is writable by group or others (mode {:o}): refusing to listen there \
                 (`chmod 700` it, and start the agent again)",
                dir.display(),
                meta.mode() & 0o7777
            )));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    files::remove_if_exists(path)?;
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use LoginReason::{BreakGlass, FailSafe, FailSecure};

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
        let halves = sane(LoginPolicy {
            exempt_networks: vec![
                "0.0.0.0/1".into(),
                "0.0.0.0/2".into(),
                "64.0.0.0/2".into(),
                "128.0.0.0/2".into(),
                "192.0.0.0/2".into(),
                "2001:db8::/32".into(),
            ],
            ..Default::default()
        });
        assert_eq!(halves.exempt_networks, ["2001:db8::/32"], "four /2 cover IPv4; a /1 is too wide");
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
        assert_eq!(exemption(&p, "backup", ""), Some(LoginReason::ExemptAccount));
        assert_eq!(exemption(&p, "root", "10.1.9.9"), Some(LoginReason::ExemptNetwork));
        assert_eq!(exemption(&p, "root", "10.2.9.9"), None);
        assert_eq!(exemption(&p, "root", "host.example"), None);
    }

    #[test]
    fn break_glass_codes_are_hashed_as_the_console_hashes_them() {
        // The console keeps SHA-256 (hex) of the code in upper case without separators.
        assert_eq!(
            sha256_hex(&normalize_break_glass("a-b c")),
            "b5d4045c3f466fa91fe2cc6abe79232a1a57cdf104f7a26e716e0a1e2789df78"
        );
    }

    fn offline(reason: LoginReason, break_glass: bool) -> OfflineLogin {
        OfflineLogin {
            id: Uuid::new_v4(),
            at: "2026-01-01T00:00:00Z".into(),
            account: "root".into(),
            source_ip: "192.0.2.9".into(),
            service: "sshd".into(),
            result: LoginResult::Allowed,
            reason: reason.into(),
            break_glass_id: break_glass.then(Uuid::new_v4),
        }
    }

    #[test]
    fn eviction_keeps_every_break_glass_use() {
        let mut q = vec![offline(BreakGlass, true), offline(FailSafe, false), offline(BreakGlass, true)];
        q.extend((0..5).map(|_| offline(FailSecure, false)));
        let newest = q.last().unwrap().id;
        assert_eq!(evict(&mut q, 4), 4);
        let reasons: Vec<_> = q.iter().map(|l| l.reason.clone()).collect();
        assert_eq!(reasons, [BreakGlass, BreakGlass, FailSecure, FailSecure]);
        assert_eq!(q.last().unwrap().id, newest, "the newest stay");
        // Only break-glass uses left: none goes, however many.
        let mut q = vec![offline(BreakGlass, true), offline(BreakGlass, true)];
        assert_eq!(evict(&mut q, 1), 0);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn safe_mode_allows_are_limited_per_account_and_source_over_the_window() {
        let now = 1_000_000;
        let allow = |account: &str, source: &str, at: i64| FailSafeAllow {
            at,
            account: account.into(),
            source_ip: source.into(),
        };
        let mut allows: Vec<_> = (0..3).map(|i| allow("root", &format!("192.0.2.{i}"), now - 60)).collect();
        assert!(!fail_safe_allowed(&mut allows, "root", "192.0.2.99", now), "a 4th for root");
        assert!(fail_safe_allowed(&mut allows, "deploy", "192.0.2.99", now), "another account");
        let mut allows: Vec<_> = (0..10).map(|i| allow(&format!("u{i}"), "198.51.100.1", now - 60)).collect();
        assert!(!fail_safe_allowed(&mut allows, "u99", "198.51.100.1", now), "an 11th from one source");
        assert!(fail_safe_allowed(&mut allows, "u99", "198.51.100.2", now));
        // The window moves on.
        let mut allows: Vec<_> = (0..3).map(|_| allow("root", "192.0.2.1", now - 15 * 60)).collect();
        assert!(fail_safe_allowed(&mut allows, "root", "192.0.2.1", now));
        assert!(allows.is_empty(), "old allows are forgotten");
    }

    #[test]
    fn sources_are_counted_by_address_not_spelling() {
        assert_eq!(source_key("::ffff:192.0.2.7"), source_key("192.0.2.7"));
        assert_eq!(source_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(source_key("2001:db8:1:2:ffff::9"), source_key("2001:db8:1:2::1"));
        assert_ne!(source_key("2001:db8:1:3::1"), source_key("2001:db8:1:2::1"));
        assert_eq!(source_key(""), source_key("host.example"));
        assert_ne!(source_key(""), source_key("192.0.2.7"));
        let now = 1_000_000;
        let mut allows: Vec<_> = (0..10)
            .map(|i| FailSafeAllow { at: now - 60, account: format!("u{i}"), source_ip: format!("2001:db8::{i:x}") })
            .collect();
        assert!(!fail_safe_allowed(&mut allows, "u99", "2001:db8::ffff", now), "an 11th from one /64");
    }

    #[tokio::test]
    async fn no_step_longer_than_a_line_leaves_the_agent() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut conn = Conn::new(ours);
        conn.send(&Step::deny(format!("HostGuard: the console refused this login ({}).", "x".repeat(MAX_LINE_BYTES))))
            .await
            .unwrap();
        drop(conn);
        let mut line = String::new();
        BufReader::new(theirs).read_line(&mut line).await.unwrap();
        assert!(line.len() <= MAX_LINE_BYTES, "a {} byte line", line.len());
        assert_eq!(serde_json::from_str::<Step>(&line).unwrap(), Step::deny(STEP_TOO_LONG));
    }

    #[test]
    fn the_agent_waits_as_long_as_the_modules_deadline() {
        assert_eq!(module_wait(None), Duration::from_secs(605), "an older module: the longest deadline");
        assert_eq!(module_wait(Some(90)), Duration::from_secs(95));
        assert_eq!(module_wait(Some(5)), Duration::from_secs(35), "never less than the shortest");
        assert_eq!(module_wait(Some(100_000)), Duration::from_secs(605));
    }

    #[test]
    fn a_torn_queue_line_is_skipped_and_the_legacy_queue_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = LoginStore::new(dir.path());
        let (a, b, c) = (offline(FailSafe, false), offline(BreakGlass, true), offline(FailSecure, false));
        std::fs::write(dir.path().join(LEGACY_QUEUE_FILE), serde_json::to_vec(&[&a]).unwrap()).unwrap();
        store.append_queued(&b).unwrap();
        let mut torn = serde_json::to_vec(&c).unwrap();
        torn.truncate(20);
        std::fs::OpenOptions::new().append(true).open(dir.path().join(QUEUE_FILE)).unwrap().write_all(&torn).unwrap();
        let (q, untidy) = store.load_queue();
        assert_eq!(q, [a.clone(), b.clone()]);
        assert!(untidy);
        store.rewrite_queue(&q).unwrap();
        assert!(!dir.path().join(LEGACY_QUEUE_FILE).exists());
        store.append_queued(&c).unwrap();
        assert_eq!(store.load_queue(), (vec![a, b, c], false));
    }

    #[tokio::test]
    async fn the_socket_directory_must_be_roots_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = bind(&run.join("pam.sock")).unwrap_err().to_string();
        assert!(err.contains("writable by group or others (mode 777)"), "{err}");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&run, Some(1000), None).unwrap();
        let err = bind(&run.join("pam.sock")).unwrap_err().to_string();
        assert!(err.contains("belongs to uid 1000, not root"), "{err}");
        assert!(!run.join("pam.sock").exists());
        std::os::unix::fs::chown(&run, Some(0), None).unwrap();
        bind(&run.join("pam.sock")).unwrap();
        // Created by the agent: root's, 0700.
        bind(&dir.path().join("new/pam.sock")).unwrap();
        let mode = std::fs::metadata(dir.path().join("new")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
