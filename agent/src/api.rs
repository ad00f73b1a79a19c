//! The agent's side of the console's agent API (`<console>/agent/v1`): the JSON types that cross
//! the wire and a small client that turns HTTP outcomes into [`ApiError`]s the daemon can act on.

use std::time::Duration;

pub use proto::agent::{
    AckRequest, AckResponse, ApiError as ErrorBody, Assignment, Facts, HeartbeatRequest, RegisterRequest,
    RegisterResponse, SelinuxMode, SshdMatchOverride,
};
pub use proto::Method;
use proto::agent::paths;
use proto::login::{LoginAnswer, LoginPolicy, LoginReply, LoginStart, OfflineReport};

/// How long a login waits for the console before the server's fail mode decides.
pub const LOGIN_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the probe that corroborates a possible outage waits (see [`ApiClient::probe`]).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the install token or the credential is not (or no longer) valid. Retrying cannot help.
    #[error("{call}: unauthorized ({error_code}: {error_msg})")]
    Unauthorized { call: &'static str, error_code: String, error_msg: String },
    /// Any other 4xx/5xx answer.
    #[error("{call}: HTTP {status} ({error_code}: {error_msg})")]
    Status { call: &'static str, status: u16, error_code: String, error_msg: String },
    /// The console could not be reached, timed out, or sent something we cannot read.
    #[error("{call}: {}", error_chain(.source))]
    Transport {
        call: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{call}: unexpected HTTP {status}")]
    Unexpected { call: &'static str, status: u16 },
    /// The console's answer is larger than [`MAX_RESPONSE_BYTES`] or not what the call returns.
    #[error("{call}: {reason}")]
    BadResponse { call: &'static str, reason: String },
}

/// reqwest's own message ("error sending request") hides the cause; show the whole chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl ApiError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Unauthorized { .. })
    }

    /// Whether this failure may mean the console is down: the request never got an answer
    /// (refused, DNS, TLS, a timeout, a connection dropped mid-way), or a gateway said the
    /// console behind it is not answering (502, 503, 504). Every other outcome is an answer —
    /// a redirect, any other 4xx or 5xx, a body that cannot be read — and so a refusal: whoever
    /// sent it is up and said no. The one rule for every login; see docs/login-protocol.md §4.2.
    pub fn possible_outage(&self) -> bool {
        match self {
            ApiError::Transport { source, .. } => !(source.is_builder() || source.is_redirect() || source.is_decode()),
            ApiError::Status { status, .. } => matches!(status, 502..=504),
            ApiError::Unauthorized { .. } | ApiError::Unexpected { .. } | ApiError::BadResponse { .. } => false,
        }
    }
}

/// Longest long-poll the console accepts, in seconds.
pub const MAX_POLL_WAIT: u64 = 30;
/// The largest answer read from the console; a bigger one is refused, not buffered.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A client for one console. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    /// The console's address; each call appends one of [`paths`].
    base: String,
    credential: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credential = self.credential.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("ApiClient").field("base", &self.base).field("credential", &credential).finish()
    }
}

impl ApiClient {
    /// A client for `console_url`, which must be https unless `insecure_http`.
    pub fn new(console_url: &str, insecure_http: bool) -> anyhow::Result<Self> {
        let scheme_ok = console_url.starts_with("https://") || (insecure_http && console_url.starts_with("http://"));
        anyhow::ensure!(
            scheme_ok,
            "the console URL {console_url} must be https:// (http:// only with --insecure-http)"
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!("hostguard-agent/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // A redirect could lead the credential to another host, or from https to http.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!insecure_http)
            .build()?;
        let base = console_url.trim_end_matches('/').to_owned();
        Ok(Self { http, base, credential: None })
    }

    pub fn with_credential(mut self, credential: impl Into<String>) -> Self {
        self.credential = Some(credential.into());
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credential {
            Some(c) => req.bearer_auth(c),
            None => req,
        }
    }

    pub async fn register(&self, install_token: &str, facts: &Facts) -> Result<RegisterResponse, ApiError> {
        const CALL: &str = "register";
        let body = RegisterRequest { install_token: install_token.to_owned(), facts: facts.clone() };
        let resp = send(CALL, self.http.post(self.url(paths::REGISTER)).json(&body)).await?;
        json(CALL, expect(CALL, resp, &[201, 200]).await?).await
    }

    pub async fn put_facts(&self, facts: &Facts) -> Result<(), ApiError> {
        const CALL: &str = "facts";
        let resp = send(CALL, self.authed(self.http.put(self.url(paths::FACTS))).json(facts)).await?;
        expect(CALL, resp, &[204, 200]).await.map(drop)
    }

    pub async fn heartbeat(&self, applied_revision: i64) -> Result<(), ApiError> {
        const CALL: &str = "heartbeat";
        let body = HeartbeatRequest { agent_version: crate::AGENT_VERSION.to_owned(), applied_revision };
        let resp = send(CALL, self.authed(self.http.post(self.url(paths::HEARTBEAT))).json(&body)).await?;
        expect(CALL, resp, &[204, 200]).await.map(drop)
    }

    /// Long-polls for a revision newer than `after`; `None` when the console has none after `wait` seconds.
    pub async fn poll_config(&self, after: i64, wait: u64) -> Result<Option<Assignment>, ApiError> {
        const CALL: &str = "config";
        let wait = wait.min(MAX_POLL_WAIT);
        let req = self
            .authed(self.http.get(self.url(paths::CONFIG)))
            .query(&[("after", after.to_string()), ("wait", wait.to_string())])
            // The console holds the request for up to `wait` seconds; leave room for a slow answer.
            .timeout(Duration::from_secs(wait + 15));
        let resp = expect(CALL, send(CALL, req).await?, &[200, 204]).await?;
        if resp.status().as_u16() == 204 {
            return Ok(None);
        }
        json(CALL, resp).await.map(Some)
    }

    pub async fn ack(&self, ack: &AckRequest) -> Result<AckResponse, ApiError> {
        const CALL: &str = "ack";
        let resp = send(CALL, self.authed(self.http.post(self.url(paths::ACK))).json(ack)).await?;
        json(CALL, expect(CALL, resp, &[200]).await?).await
    }
}

impl ApiClient {
    pub async fn login_start(&self, start: &LoginStart) -> Result<LoginReply, ApiError> {
        const CALL: &str = "login start";
        let req = self.authed(self.http.post(self.url(paths::LOGINS))).json(start).timeout(LOGIN_CALL_TIMEOUT);
        json(CALL, expect(CALL, send(CALL, req).await?, &[200, 201]).await?).await
    }

    pub async fn login_answer(&self, login_id: uuid::Uuid, answer: &str) -> Result<LoginReply, ApiError> {
        const CALL: &str = "login answer";
        let body = LoginAnswer { answer: answer.to_owned() };
        let req = self
            .authed(self.http.post(self.url(&paths::login_answer(login_id))))
            .json(&body)
            .timeout(LOGIN_CALL_TIMEOUT);
        json(CALL, expect(CALL, send(CALL, req).await?, &[200]).await?).await
    }

    pub async fn login_policy(&self) -> Result<LoginPolicy, ApiError> {
        const CALL: &str = "login policy";
        let req = self.authed(self.http.get(self.url(paths::LOGIN_POLICY))).timeout(LOGIN_CALL_TIMEOUT);
        json(CALL, expect(CALL, send(CALL, req).await?, &[200]).await?).await
    }

    /// A quick call along the same path as the login calls, made when one of them failed:
    /// `Ok` when something answered (the console is up, or whatever stands in front of it chose
    /// to refuse); the error when it failed as a possible outage too, or answered 401.
    pub async fn probe(&self) -> Result<(), ApiError> {
        const CALL: &str = "probe";
        let req = self.authed(self.http.get(self.url(paths::LOGIN_POLICY))).timeout(PROBE_TIMEOUT);
        match expect(CALL, send(CALL, req).await?, &[200]).await {
            Err(e) if e.possible_outage() || e.is_unauthorized() => Err(e),
            _ => Ok(()),
        }
    }

    pub async fn report_offline(&self, report: &OfflineReport) -> Result<(), ApiError> {
        const CALL: &str = "offline logins";
        let req = self.authed(self.http.post(self.url(paths::LOGINS_OFFLINE))).json(report).timeout(LOGIN_CALL_TIMEOUT);
        expect(CALL, send(CALL, req).await?, &[204, 200]).await.map(drop)
    }
}

/// The body, read up to [`MAX_RESPONSE_BYTES`]; refused as soon as it says or proves to be bigger.
pub async fn limited_body(call: &'static str, mut resp: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    let too_big = || ApiError::BadResponse {
        call,
        reason: format!("the console's answer is larger than {MAX_RESPONSE_BYTES} bytes; refused"),
    };
    if resp.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|source| ApiError::Transport { call, source })? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn json<T: serde::de::DeserializeOwned>(call: &'static str, resp: reqwest::Response) -> Result<T, ApiError> {
    let body = limited_body(call, resp).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::BadResponse {
        call,
        // serde quotes the offending text, which the console chose: capped.
        reason: format!("the console's answer is not what {call} returns: {}", clip(&e.to_string())),
    })
}

/// The most of the console's own text an error carries.
pub const MAX_ERROR_TEXT_CHARS: usize = 200;

/// `text` without control characters, cut to [`MAX_ERROR_TEXT_CHARS`].
fn clip(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(MAX_ERROR_TEXT_CHARS).collect();
    if text.chars().filter(|c| !c.is_control()).nth(MAX_ERROR_TEXT_CHARS).is_some() {
        out.push('…');
    }
    out
}

async fn send(call: &'static str, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
    req.send().await.map_err(|source| ApiError::Transport { call, source })
}

/// Passes a response with one of the `ok` statuses; turns anything else into an [`ApiError`].
async fn expect(call: &'static str, resp: reqwest::Response, ok: &[u16]) -> Result<reqwest::Response, ApiError> {
    let status = resp.status().as_u16();
    if ok.contains(&status) {
        return Ok(resp);
    }
    if status < 400 {
        return Err(ApiError::Unexpected { call, status });
    }
    // The console always answers errors with an ErrorBody; a proxy in between may not.
    let text = String::from_utf8_lossy(&limited_body(call, resp).await.unwrap_or_default()).into_owned();
    // Capped: the error ends up in a login's refusal, which must fit the module's line.
    let (error_code, error_msg) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => (clip(&b.error_code), clip(&b.error_msg)),
        Err(_) => ("unknown".to_owned(), clip(&text)),
    };
    if status == 401 {
        Err(ApiError::Unauthorized { call, error_code, error_msg })
    } else {
        Err(ApiError::Status { call, status, error_code, error_msg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ApiError {
        ApiError::Status { call: "login answer", status, error_code: "x".into(), error_msg: "y".into() }
    }

    #[test]
    fn only_gateway_answers_may_be_an_outage() {
        for s in [502, 503, 504] {
            assert!(status(s).possible_outage(), "{s}");
        }
        for s in [400, 403, 404, 405, 409, 413, 415, 422, 429, 500, 501, 505, 599] {
            assert!(!status(s).possible_outage(), "{s} is an answer, and so a refusal");
        }
        let unauthorized = ApiError::Unauthorized { call: "x", error_code: "x".into(), error_msg: "y".into() };
        assert!(!unauthorized.possible_outage());
        assert!(!ApiError::Unexpected { call: "x", status: 302 }.possible_outage());
        assert!(!ApiError::BadResponse { call: "x", reason: "garbage".into() }.possible_outage());
    }

    #[tokio::test]
    async fn a_refused_connection_or_a_timeout_may_be_an_outage() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = ApiClient::new(&format!("http://{addr}"), true).unwrap();
        let refused = client.probe().await.unwrap_err();
        assert!(refused.possible_outage(), "{refused}");
        // Accepts, never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = ApiClient::new(&format!("http://{}", silent.local_addr().unwrap()), true).unwrap();
        let _held = tokio::spawn(async move {
            let mut held = vec![];
            while let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        });
        let timed_out = client.probe().await.unwrap_err();
        assert!(timed_out.possible_outage(), "{timed_out}");
    }
}
