//! The agent's life: register once, then report facts, heartbeat, long-poll for config revisions,
//! apply them and acknowledge, while serving the PAM module's logins — retrying through network
//! trouble. When the console rejects the agent's credential (401), the daemon does not stop: it
//! keeps serving logins from the stored policy as in fail mode secure (exemptions and break-glass
//! codes only), says so in its log and in `<state-dir>/status.json` with the fix (re-install with
//! a new install token), and retries its heartbeat with backoff until the console accepts the
//! credential again. Only `--once`, or a registration whose install token is refused, ends with
//! the exit code 3.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::{interval, sleep, MissedTickBehavior};

use crate::api::{AckRequest, ApiClient, ApiError, Assignment, Facts};
use crate::apply::{Applier, ApplyError, Reload};
use crate::cli::Options;
use crate::facts;
use crate::login::{LoginService, LoginStore, CREDENTIAL_REJECTED_LOG};
use crate::state::{self, AgentState, AgentStatus};
use std::sync::Arc;

const FACTS_EVERY: Duration = Duration::from_secs(600);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// While the credential is rejected, the heartbeat is retried after this, doubling ...
const REJECTED_BACKOFF_START: Duration = Duration::from_secs(5);
/// ... up to this.
const REJECTED_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The console rejects the agent's credential: when to try the heartbeat again.
struct Rejected {
    next_try: tokio::time::Instant,
    backoff: Duration,
}

/// Why the agent stopped; [`AgentError::exit_code`] is the process's exit code.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Bad or missing options: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The console rejected the install token or the credential: exit 3, the admin must re-install.
    #[error("{0}; the agent must be re-installed with a new install token")]
    Unauthorized(ApiError),
    /// `--once` only: the revision was acknowledged as failed.
    #[error("revision {revision} was not applied: {error}")]
    ApplyFailed { revision: i64, error: ApplyError },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl AgentError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AgentError::Usage(_) => 2,
            AgentError::Unauthorized(_) => 3,
            AgentError::ApplyFailed { .. } | AgentError::Other(_) => 1,
        }
    }
}

impl From<ApiError> for AgentError {
    fn from(e: ApiError) -> Self {
        if e.is_unauthorized() {
            AgentError::Unauthorized(e)
        } else {
            AgentError::Other(e.into())
        }
    }
}

/// Runs the agent until it is done (`--once`), fails for good, or gets SIGTERM / ctrl-c.
pub async fn run(opts: Options) -> Result<(), AgentError> {
    run_until(opts, shutdown_signal()).await
}

/// [`run`], stopping cleanly when `shutdown` completes instead of on a signal (for tests).
pub async fn run_until(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
    let agent = Agent::new(opts)?;
    tokio::select! {
        result = agent.run() => result,
        () = shutdown => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

struct Agent {
    opts: Options,
    state_path: PathBuf,
    state: Option<AgentState>,
    /// Needed only until the agent has registered.
    token: Option<String>,
    applier: Applier,
}

impl Agent {
    fn new(opts: Options) -> Result<Self, AgentError> {
        opts.check_console_url().map_err(AgentError::Usage)?;
        let state_path = opts.state_file();
        let state = state::load(&state_path).map_err(anyhow::Error::from)?;
        // The token is read only until the agent has registered (its file may be gone since).
        let token = match &state {
            None => opts.install_token().map_err(AgentError::Usage)?,
            Some(_) => opts.refuse_token_flag().map(|()| None).map_err(AgentError::Usage)?,
        };
        if state.is_none() && token.is_none() {
            return Err(AgentError::Usage(format!(
                "not registered yet ({} does not exist) and no install token given: pass it with --token-file \
                 (`-` for standard input) or in {}",
                state_path.display(),
                crate::cli::TOKEN_ENV
            )));
        }
        let mut applier = Applier::new(&opts.root, &opts.sshd, &opts.backup_dir());
        if let Some(cmd) = &opts.reload_command {
            let argv: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
            if argv.is_empty() {
                return Err(AgentError::Usage("--reload-command is empty".into()));
            }
            applier = applier.with_reload(Reload::Command(argv));
        }
        Ok(Self { opts, state_path, state, token, applier })
    }

    async fn run(mut self) -> Result<(), AgentError> {
        if self.opts.once {
            self.once().await
        } else {
            self.forever().await
        }
    }

    async fn once(&mut self) -> Result<(), AgentError> {
        let client = self.register(false).await?;
        client.put_facts(&self.collect_facts().await?).await?;
        client.heartbeat(self.applied_revision()).await?;
        if let Some(rev) = client.poll_config(self.applied_revision(), 0).await? {
            let ack = self.apply(&rev).await;
            self.send_ack(&client, &ack).await?;
            if let Err(error) = ack.1 {
                return Err(AgentError::ApplyFailed { revision: rev.revision, error });
            }
        }
        Ok(())
    }

    async fn forever(&mut self) -> Result<(), AgentError> {
        let client = self.register(true).await?;
        let logins = LoginService::new(
            client.clone(),
            LoginStore::new(&self.opts.state_dir()),
            self.opts.root.join(crate::pam_conf::PAM_CONF),
        );
        let socket = self.opts.socket_path();
        let listener = crate::login::bind(&socket)
            .map_err(|e| anyhow::anyhow!("cannot listen for the PAM module on {}: {e}", socket.display()))?;
        tracing::info!("PAM module socket at {}", socket.display());
        let _serving = AbortOnDrop(tokio::spawn(Arc::clone(&logins).serve(listener)));
        if let Err(e) = logins.refresh_policy().await {
            tracing::warn!("{e}; using the login policy kept on disk");
        }
        let wait = self.opts.poll_wait;
        let mut facts_tick = interval(FACTS_EVERY);
        let mut heartbeat_tick = interval(Duration::from_secs(self.opts.heartbeat_secs));
        facts_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // A revision that failed is not retried until a newer one arrives (or the agent restarts);
        // otherwise the console would hand it straight back and we would spin.
        let mut failed_revision: Option<i64> = None;
        // An ack the console has not received yet; retried with each heartbeat.
        let mut pending_ack: Option<AckRequest> = None;
        let mut backoff = BACKOFF_START;
        let mut rejected: Option<Rejected> = None;
        self.write_status(AgentStatus::ok()).await;
        let mut poll = Box::pin(poll_after(client.clone(), self.applied_revision(), wait, Duration::ZERO));

        loop {
            tokio::select! {
                _ = facts_tick.tick() => {
                    if rejected.is_some() {
                        continue;
                    }
                    let facts = self.collect_facts().await?;
                    match client.put_facts(&facts).await {
                        Ok(()) => tracing::debug!("facts reported"),
                        Err(e) if e.is_unauthorized() => self.reject(&logins, &mut rejected, &e).await,
                        Err(e) => tracing::warn!("{e}; will report facts again later"),
                    }
                }
                _ = heartbeat_tick.tick() => {
                    if rejected.as_ref().is_some_and(|r| tokio::time::Instant::now() < r.next_try) {
                        continue;
                    }
                    match client.heartbeat(self.applied_revision()).await {
                        Ok(()) => {
                            if rejected.take().is_some() {
                                logins.set_credential_rejected(false);
                                tracing::info!("the console accepts this agent's credential again; logins ask the console again");
                                self.write_status(AgentStatus::ok()).await;
                                let after = self.applied_revision().max(failed_revision.unwrap_or(i64::MIN));
                                poll = Box::pin(poll_after(client.clone(), after, wait, Duration::ZERO));
                            }
                            if let Err(e) = logins.refresh_policy().await {
                                tracing::warn!("{e}");
                            }
                            if let Err(e) = logins.flush_offline().await {
                                tracing::warn!("{e}; will report the offline logins again later");
                            }
                        }
                        Err(e) if e.is_unauthorized() => self.reject(&logins, &mut rejected, &e).await,
                        Err(e) => tracing::warn!("{e}"),
                    }
                    if let Some(ack) = pending_ack.take() {
                        if rejected.is_some() {
                            pending_ack = Some(ack);
                        } else {
                            let sent = self.send_ack_request(&client, &ack).await;
                            pending_ack = self.retry_later(&logins, &mut rejected, sent, ack).await;
                        }
                    }
                }
                result = &mut poll => {
                    let delay = match result {
                        Ok(Some(rev)) => {
                            backoff = BACKOFF_START;
                            let (ack, outcome) = self.apply(&rev).await;
                            failed_revision = outcome.is_err().then_some(rev.revision);
                            let sent = self.send_ack_request(&client, &ack).await;
                            pending_ack = self.retry_later(&logins, &mut rejected, sent, ack).await;
                            Duration::ZERO
                        }
                        Ok(None) => {
                            backoff = BACKOFF_START;
                            Duration::ZERO
                        }
                        // The heartbeat alone retries (and backs off) while rejected; polls wait.
                        Err(e) if e.is_unauthorized() => {
                            if rejected.is_none() {
                                self.reject(&logins, &mut rejected, &e).await;
                            }
                            rejected.as_ref().map_or(REJECTED_BACKOFF_MAX, |r| r.backoff)
                        }
                        Err(e) => {
                            let delay = backoff;
                            backoff = (backoff * 2).min(BACKOFF_MAX);
                            tracing::warn!("{e}; polling again in {}s", delay.as_secs());
                            delay
                        }
                    };
                    let after = self.applied_revision().max(failed_revision.unwrap_or(i64::MIN));
                    poll = Box::pin(poll_after(client.clone(), after, wait, delay));
                }
            }
        }
    }

    /// The console rejected the credential: logins go on from the stored policy (as in fail
    /// mode secure), the log and the status file say what happened and the fix, and the next
    /// heartbeat waits a little longer each time.
    async fn reject(&self, logins: &LoginService, rejected: &mut Option<Rejected>, e: &ApiError) {
        let backoff = match rejected {
            None => REJECTED_BACKOFF_START,
            Some(r) => (r.backoff * 2).min(REJECTED_BACKOFF_MAX),
        };
        let first = rejected.is_none();
        *rejected = Some(Rejected { next_try: tokio::time::Instant::now() + backoff, backoff });
        logins.set_credential_rejected(true);
        tracing::error!("{e}: {CREDENTIAL_REJECTED_LOG}. Trying again in {}s.", backoff.as_secs());
        if first {
            self.write_status(AgentStatus::credential_rejected(&e.to_string())).await;
        }
    }

    /// Keeps an ack for later when the console could not be reached or rejected the credential.
    async fn retry_later(
        &self,
        logins: &LoginService,
        rejected: &mut Option<Rejected>,
        sent: Result<(), ApiError>,
        ack: AckRequest,
    ) -> Option<AckRequest> {
        match sent {
            Ok(()) => None,
            Err(e) => {
                if e.is_unauthorized() {
                    self.reject(logins, rejected, &e).await;
                } else {
                    tracing::warn!("{e}; will send the ack for revision {} again", ack.revision);
                }
                Some(ack)
            }
        }
    }

    async fn write_status(&self, status: AgentStatus) {
        let path = self.opts.state_dir().join(state::STATUS_FILE);
        let saved = tokio::task::spawn_blocking(move || state::save_status(&path, &status)).await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("{e}"),
            Err(e) => tracing::error!("writing the status file failed: {e}"),
        }
    }

    fn applied_revision(&self) -> i64 {
        self.state.as_ref().map_or(0, |s| s.applied_revision)
    }

    /// Returns a client carrying the agent's credential, registering first if there is no state.
    /// With `retry`, network and server errors are retried with backoff; a 401 never is.
    async fn register(&mut self, retry: bool) -> Result<ApiClient, AgentError> {
        let client = ApiClient::new(&self.opts.console, self.opts.insecure_http)?;
        if let Some(state) = &mut self.state {
            if state.console != self.opts.console {
                tracing::warn!(
                    "console changed from {} to {}; keeping the credential",
                    state.console,
                    self.opts.console
                );
                state.console = self.opts.console.clone();
                state::save(&self.state_path, state).map_err(anyhow::Error::from)?;
            }
            return Ok(client.with_credential(state.credential.clone()));
        }
        let token = self.token.clone().unwrap_or_default();
        let facts = self.collect_facts().await?;
        let mut backoff = BACKOFF_START;
        let registered = loop {
            match client.register(&token, &facts).await {
                Ok(r) => break r,
                Err(e) if e.is_unauthorized() || !retry => return Err(e.into()),
                Err(e) => {
                    tracing::warn!("{e}; registering again in {}s", backoff.as_secs());
                    sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        };
        tracing::info!(server_id = %registered.server_id, "registered with {}", self.opts.console);
        let state = AgentState {
            console: self.opts.console.clone(),
            server_id: registered.server_id,
            credential: registered.credential,
            applied_revision: 0,
        };
        state::save(&self.state_path, &state).map_err(anyhow::Error::from)?;
        let client = client.with_credential(state.credential.clone());
        self.state = Some(state);
        self.token = None;
        Ok(client)
    }

    async fn collect_facts(&self) -> Result<Facts, AgentError> {
        let (root, sshd, name) = (self.opts.root.clone(), self.opts.sshd.clone(), self.opts.name.clone());
        tokio::task::spawn_blocking(move || facts::collect(&root, &sshd, name.as_deref()))
            .await
            .map_err(|e| AgentError::Other(anyhow::anyhow!("collecting facts failed: {e}")))
    }

    /// Applies a revision and records it as applied on success; returns the ack to send.
    async fn apply(&mut self, rev: &Assignment) -> (AckRequest, Result<(), ApplyError>) {
        if let Some(state) = &self.state {
            if rev.server_id != state.server_id {
                tracing::warn!(expected = %state.server_id, got = %rev.server_id, "revision names another server id");
            }
        }
        tracing::info!(revision = rev.revision, enabled = rev.enabled, "applying config revision");
        let mut applier = self.applier.clone();
        let store = LoginStore::new(&self.opts.state_dir());
        let owned = rev.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            applier.fail_mode = store.policy().fail_mode;
            applier.apply(&owned)
        })
        .await
        .unwrap_or_else(|e| Err(ApplyError::Refused(format!("the apply task failed: {e}"))));
        match &outcome {
            Ok(()) => {
                tracing::info!(revision = rev.revision, "revision applied");
                if let Some(state) = &mut self.state {
                    state.applied_revision = rev.revision;
                    // The files are in place either way; if this fails we re-apply (idempotently)
                    // after a restart.
                    if let Err(e) = state::save(&self.state_path, state) {
                        tracing::error!("{e}");
                    }
                }
            }
            Err(e) => tracing::error!(revision = rev.revision, "{e}"),
        }
        let ack = AckRequest {
            revision: rev.revision,
            ok: outcome.is_ok(),
            error: outcome.as_ref().err().map(ToString::to_string),
        };
        (ack, outcome)
    }

    async fn send_ack(&self, client: &ApiClient, ack: &(AckRequest, Result<(), ApplyError>)) -> Result<(), ApiError> {
        self.send_ack_request(client, &ack.0).await
    }

    async fn send_ack_request(&self, client: &ApiClient, ack: &AckRequest) -> Result<(), ApiError> {
        let resp = client.ack(ack).await?;
        if resp.accepted {
            tracing::info!(revision = ack.revision, ok = ack.ok, "ack accepted");
        } else {
            tracing::info!(revision = ack.revision, "ack not accepted: a newer revision exists");
        }
        Ok(())
    }
}

/// Stops the socket server when the agent stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn poll_after(client: ApiClient, after: i64, wait: u64, delay: Duration) -> Result<Option<Assignment>, ApiError> {
    if !delay.is_zero() {
        sleep(delay).await;
    }
    client.poll_config(after, wait).await
}
