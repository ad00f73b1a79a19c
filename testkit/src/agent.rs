//! A fake agent: the real agent's [`ApiClient`] with a credential, so the tests speak the agent
//! API exactly as the agent does (same paths, bodies and status handling), and a rename in the
//! agent API fails to compile here too. Tests that send a malformed body on purpose keep raw
//! requests; this is for everything an agent really sends.

use crate::TestApp;
pub use agent::api::{ApiClient, ApiError as AgentError};
use proto::agent::{AckRequest, Assignment, Facts, SelinuxMode};
use proto::login::{LoginPolicy, LoginReply, LoginStart, OfflineReport};
use uuid::Uuid;

/// A registered agent: its server and its bearer credential.
#[derive(Clone, Debug)]
pub struct FakeAgent {
    pub server_id: Uuid,
    pub credential: String,
    pub api: ApiClient,
}

/// The facts a ready Debian 12 server named `hostname` reports: OpenSSH 9.2, PAM and
/// keyboard-interactive on, SELinux off, at 10.0.0.7.
pub fn debian_facts(hostname: &str) -> Facts {
    Facts {
        hostname: hostname.to_owned(),
        ips: vec!["10.0.0.7".into()],
        os_type: "linux".into(),
        os_name: "Debian GNU/Linux 12 (bookworm)".into(),
        openssh_version: Some("OpenSSH_9.2p1".into()),
        sshd_use_pam: Some(true),
        sshd_kbd_interactive: Some(true),
        sshd_permit_empty_passwords: Some(false),
        selinux: Some(SelinuxMode::Disabled),
        agent_version: "0.1.0".into(),
        ..Default::default()
    }
}

/// The HTTP status of an agent API refusal (401, 404, 422…); any other failure fails the test.
pub fn agent_status(e: &AgentError) -> u16 {
    match e {
        AgentError::Unauthorized { .. } => 401,
        AgentError::Status { status, .. } | AgentError::Unexpected { status, .. } => *status,
        other => panic!("the console did not answer with a status: {other}"),
    }
}

/// The `error_code` of an agent API refusal (`AGENT.0401`…).
pub fn agent_error_code(e: &AgentError) -> &str {
    match e {
        AgentError::Unauthorized { error_code, .. } | AgentError::Status { error_code, .. } => error_code,
        other => panic!("the console did not answer with an error body: {other}"),
    }
}

impl TestApp {
    /// The agent API client without a credential, as an agent has before it registers.
    pub fn agent_api(&self) -> ApiClient {
        ApiClient::new(&self.base, true).expect("the test console's URL")
    }

    /// The agent that holds `credential` for `server_id` (e.g. a [`crate::Protected`] server's).
    pub fn agent(&self, server_id: Uuid, credential: &str) -> FakeAgent {
        FakeAgent { server_id, credential: credential.to_owned(), api: self.agent_api().with_credential(credential) }
    }

    /// Registers with `install_token` as the agent's `--once` does.
    pub async fn try_register_agent(&self, install_token: &str, facts: &Facts) -> Result<FakeAgent, AgentError> {
        let registered = self.agent_api().register(install_token, facts).await?;
        Ok(self.agent(registered.server_id, &registered.credential))
    }

    /// [`Self::try_register_agent`] that must succeed.
    pub async fn register_agent(&self, install_token: &str, facts: &Facts) -> FakeAgent {
        self.try_register_agent(install_token, facts)
            .await
            .unwrap_or_else(|e| panic!("register {}: {e}", facts.hostname))
    }
}

impl FakeAgent {
    /// The long poll: a revision newer than `after`, or `None` after `wait` seconds.
    pub async fn try_poll(&self, after: i64, wait: u64) -> Result<Option<Assignment>, AgentError> {
        self.api.poll_config(after, wait).await
    }

    pub async fn poll(&self, after: i64, wait: u64) -> Option<Assignment> {
        self.try_poll(after, wait).await.unwrap_or_else(|e| panic!("poll: {e}"))
    }

    /// Waits (the clock advanced) until the console hands over a revision newer than `after`.
    pub async fn next_revision(&self, after: i64) -> Assignment {
        for _ in 0..100 {
            if let Some(a) = self.poll(after, 1).await {
                return a;
            }
        }
        panic!("no revision after {after}")
    }

    /// A heartbeat naming the revision the agent has applied.
    pub async fn try_heartbeat(&self, applied_revision: i64) -> Result<(), AgentError> {
        self.api.heartbeat(applied_revision).await
    }

    pub async fn heartbeat(&self, applied_revision: i64) {
        self.try_heartbeat(applied_revision).await.unwrap_or_else(|e| panic!("heartbeat: {e}"))
    }

    pub async fn try_put_facts(&self, facts: &Facts) -> Result<(), AgentError> {
        self.api.put_facts(facts).await
    }

    pub async fn put_facts(&self, facts: &Facts) {
        self.try_put_facts(facts).await.unwrap_or_else(|e| panic!("facts of {}: {e}", facts.hostname))
    }

    /// The outcome of applying `revision`: `None` applied, `Some(why)` failed. Whether the
    /// console took it (false for a revision that is no longer the newest).
    pub async fn try_ack(&self, revision: i64, error: Option<&str>) -> Result<bool, AgentError> {
        let ack = AckRequest { revision, ok: error.is_none(), error: error.map(str::to_owned) };
        Ok(self.api.ack(&ack).await?.accepted)
    }

    pub async fn ack(&self, revision: i64, error: Option<&str>) -> bool {
        self.try_ack(revision, error).await.unwrap_or_else(|e| panic!("ack {revision}: {e}"))
    }

    /// A login to `account` over ssh from `source_ip`, as the PAM module asks the agent.
    pub async fn try_login_start(&self, account: &str, source_ip: &str) -> Result<LoginReply, AgentError> {
        let start = LoginStart {
            account: account.into(),
            source_ip: source_ip.into(),
            service: "sshd".into(),
            tty: "ssh".into(),
            ..Default::default()
        };
        self.api.login_start(&start).await
    }

    pub async fn login_start(&self, account: &str, source_ip: &str) -> LoginReply {
        self.try_login_start(account, source_ip).await.unwrap_or_else(|e| panic!("login start {account}: {e}"))
    }

    pub async fn try_login_answer(&self, login_id: Uuid, answer: &str) -> Result<LoginReply, AgentError> {
        self.api.login_answer(login_id, answer).await
    }

    pub async fn login_answer(&self, login_id: Uuid, answer: &str) -> LoginReply {
        self.try_login_answer(login_id, answer).await.unwrap_or_else(|e| panic!("login answer: {e}"))
    }

    pub async fn try_login_policy(&self) -> Result<LoginPolicy, AgentError> {
        self.api.login_policy().await
    }

    pub async fn login_policy(&self) -> LoginPolicy {
        self.try_login_policy().await.unwrap_or_else(|e| panic!("login policy: {e}"))
    }

    /// The logins decided while the console was out of reach.
    pub async fn try_report_offline(&self, report: &OfflineReport) -> Result<(), AgentError> {
        self.api.report_offline(report).await
    }

    pub async fn report_offline(&self, report: &OfflineReport) {
        self.try_report_offline(report).await.unwrap_or_else(|e| panic!("offline logins: {e}"))
    }
}
