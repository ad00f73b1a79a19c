//! The agent's side of the console's agent API (`<console>/agent/v1`): the JSON types that cross
//! the wire and a small client that turns HTTP outcomes into [`ApiError`]s the daemon can act on.

use std::time::Duration;

use proto::agent::paths;
pub use proto::agent::{
    AckRequest, AckResponse, ApiError as ErrorBody, Assignment, Facts, HeartbeatRequest, RegisterRequest,
    RegisterResponse, SelinuxMode, SshdMatchOverride,
};
use proto::login::{LoginAnswer, LoginPolicy, LoginReply, LoginStart, OfflineReport};
pub use proto::Method;

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
    /// The config stream's socket broke, closed or fell silent.
    #[error("{call}: the stream ended: {reason}")]
    Stream { call: &'static str, reason: String },
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
            ApiError::Stream { .. } => true,
            ApiError::Unauthorized { .. } | ApiError::Unexpected { .. } | ApiError::BadResponse { .. } => false,
        }
    }
}

/// Longest long-poll the console accepts, in seconds.
pub const MAX_POLL_WAIT: u64 = 30;
/// The largest answer read from the console; a bigger one is refused, not buffered.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A client for one console. Cheap to clone (the connection pool and the config stream are
/// shared).
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    /// The console's address; each call appends one of [`paths`].
    base: String,
    credential: Option<String>,
    stream: std::sync::Arc<tokio::sync::Mutex<StreamState>>,
}

type Socket = tokio_tungstenite::WebSocketStream<reqwest::Upgraded>;

/// The config stream ([`paths::CONFIG_STREAM`]) between waits.
#[derive(Default)]
enum StreamState {
    #[default]
    Closed,
    Open(Box<Socket>),
    /// The console (an older one) or a proxy before it takes no WebSocket: long polls until then.
    Unsupported {
        until: tokio::time::Instant,
    },
}

impl StreamState {
    /// Long polls for [`STREAM_RETRY`] from now.
    fn unsupported() -> Self {
        StreamState::Unsupported { until: tokio::time::Instant::now() + STREAM_RETRY }
    }
}

/// How long the agent long-polls before it tries the stream again where it was refused.
const STREAM_RETRY: Duration = Duration::from_secs(600);
/// The largest message read from the stream (an assignment is a few hundred bytes).
const STREAM_MAX_MESSAGE: usize = 64 * 1024;

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
        Ok(Self { http, base, credential: None, stream: Default::default() })
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

    /// Waits for a revision newer than `after`; `None` when the console has none after `wait`
    /// seconds. Over the config stream when the console takes it, else a long poll.
    pub async fn poll_config(&self, after: i64, wait: u64) -> Result<Option<Assignment>, ApiError> {
        let wait = wait.min(MAX_POLL_WAIT);
        if wait > 0 {
            if let Some(answer) = self.stream_wait(after, wait).await {
                return answer;
            }
        }
        self.long_poll(after, wait).await
    }

    /// One wait on the config stream, opened (again) if need be; `None` where the console takes
    /// no stream.
    async fn stream_wait(&self, after: i64, wait: u64) -> Option<Result<Option<Assignment>, ApiError>> {
        // One wait at a time per stream; a second wait at once (the agent makes none) long-polls.
        let Ok(mut state) = self.stream.try_lock() else { return None };
        // A socket kept since the last wait may have been closed meanwhile (the console closes
        // idle ones): then once more on a new one.
        for _ in 0..2 {
            let fresh = !matches!(*state, StreamState::Open(_));
            if fresh {
                if let StreamState::Unsupported { until } = *state {
                    if tokio::time::Instant::now() < until {
                        return None;
                    }
                }
                match self.open_stream().await {
                    Ok(Some(socket)) => *state = StreamState::Open(Box::new(socket)),
                    Ok(None) => {
                        tracing::info!("the console takes no config stream: long polls");
                        *state = StreamState::unsupported();
                        return None;
                    }
                    Err(e) => {
                        *state = StreamState::Closed;
                        return Some(Err(e));
                    }
                }
            }
            // Taken out while in use: a wait dropped half-way (the daemon moved on) leaves the
            // stream closed, never open with an answer nobody read.
            let mut socket = match std::mem::take(&mut *state) {
                StreamState::Open(socket) => socket,
                other => {
                    *state = other;
                    return None;
                }
            };
            match exchange(&mut socket, after, wait).await {
                Ok(answer) => {
                    // The console closes the stream after an error.
                    if answer.is_ok() {
                        *state = StreamState::Open(socket);
                    }
                    return Some(answer);
                }
                Err(e) if fresh => {
                    // A new stream that breaks before its first answer: most likely a proxy
                    // that passed the handshake on but does not carry WebSockets. Long polls.
                    tracing::info!("the config stream broke before its first answer ({e}): long polls");
                    *state = StreamState::unsupported();
                    return None;
                }
                Err(_) => *state = StreamState::Closed,
            }
        }
        None
    }

    /// The WebSocket handshake over reqwest's own connection; `Ok(None)` when the console
    /// answers that it has no such thing (an older console, or a proxy that drops the upgrade).
    async fn open_stream(&self) -> Result<Option<Socket>, ApiError> {
        use reqwest::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
        use tokio_tungstenite::tungstenite::{handshake, protocol::Role, protocol::WebSocketConfig};
        const CALL: &str = "config stream";
        let key = handshake::client::generate_key();
        let req = self
            .authed(self.http.get(self.url(paths::CONFIG_STREAM)))
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_VERSION, "13")
            .header(SEC_WEBSOCKET_KEY, &key);
        let resp = send(CALL, req).await?;
        match resp.status().as_u16() {
            101 => {}
            // 503: the console has as many streams as it takes; long polls are still answered.
            400 | 404 | 405 | 426 | 501 | 503 => return Ok(None),
            _ => return expect(CALL, resp, &[]).await.map(|_| None),
        }
        let accept = resp.headers().get(SEC_WEBSOCKET_ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if accept != handshake::derive_accept_key(key.as_bytes()) {
            return Err(ApiError::BadResponse {
                call: CALL,
                reason: "the WebSocket handshake's accept key is wrong".into(),
            });
        }
        let upgraded = resp.upgrade().await.map_err(|source| ApiError::Transport { call: CALL, source })?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(STREAM_MAX_MESSAGE))
            .max_frame_size(Some(STREAM_MAX_MESSAGE));
        Ok(Some(tokio_tungstenite::WebSocketStream::from_raw_socket(upgraded, Role::Client, Some(config)).await))
    }

    /// Long-polls for a revision newer than `after`.
    async fn long_poll(&self, after: i64, wait: u64) -> Result<Option<Assignment>, ApiError> {
        const CALL: &str = "config";
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

/// One wait on an open stream: `Ok` with what the console answered (a revision, none, or its
/// refusal), `Err` when the socket failed before an answer.
async fn exchange(
    socket: &mut Socket,
    after: i64,
    wait: u64,
) -> Result<Result<Option<Assignment>, ApiError>, ApiError> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    const CALL: &str = "config stream";
    let broken = |reason: String| ApiError::Stream { call: CALL, reason };
    let ask = serde_json::to_string(&proto::agent::StreamWait { after, wait }).map_err(|e| broken(e.to_string()))?;
    socket.send(Message::text(ask)).await.map_err(|e| broken(e.to_string()))?;
    // As the long poll: the console answers within `wait` seconds; room for a slow answer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait + 15);
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let text = match next {
            Err(_) => return Err(broken(format!("no answer within {} s", wait + 15))),
            Ok(None) => return Err(broken("closed".into())),
            Ok(Some(Err(e))) => return Err(broken(e.to_string())),
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(_)))) => return Err(broken("closed by the console".into())),
            Ok(Some(Ok(Message::Binary(_)))) => {
                return Ok(Err(ApiError::BadResponse { call: CALL, reason: "a binary message on the stream".into() }))
            }
            Ok(Some(Ok(_))) => continue,
        };
        let answer: proto::agent::StreamAnswer = match serde_json::from_str(text.as_str()) {
            Ok(a) => a,
            Err(e) => {
                let reason = format!("the console's answer is not a stream answer: {}", clip(&e.to_string()));
                return Ok(Err(ApiError::BadResponse { call: CALL, reason }));
            }
        };
        return Ok(match (answer.status, answer.error) {
            (None, None) => match answer.assignment {
                // Not what was asked for: a newer revision than `after`, or nothing.
                Some(a) if a.revision <= after => Err(ApiError::BadResponse {
                    call: CALL,
                    reason: format!("the stream answered revision {} to a wait after {after}", a.revision),
                }),
                assignment => Ok(assignment),
            },
            (status, error) => {
                let error = error.unwrap_or(ErrorBody { error_code: "unknown".into(), error_msg: String::new() });
                Err(refusal(CALL, status.unwrap_or(500), &error.error_code, &error.error_msg))
            }
        });
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
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => Err(refusal(call, status, &b.error_code, &b.error_msg)),
        Err(_) => Err(refusal(call, status, "unknown", &text)),
    }
}

/// The console's refusal `status` with its error body, as an [`ApiError`]: `Unauthorized` for
/// 401. Capped: the error ends up in a login's refusal, which must fit the module's line.
fn refusal(call: &'static str, status: u16, error_code: &str, error_msg: &str) -> ApiError {
    let (error_code, error_msg) = (clip(error_code), clip(error_msg));
    if status == 401 {
        ApiError::Unauthorized { call, error_code, error_msg }
    } else {
        ApiError::Status { call, status, error_code, error_msg }
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

    /// A client with a credential for `app`, served on a free local port.
    async fn console(app: axum::Router) -> ApiClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ApiClient::new(&format!("http://{addr}"), true).unwrap().with_credential("hga_x")
    }

    /// A console without the config stream (an older one, or a proxy that drops the upgrade):
    /// the agent long-polls, and does not ask for the stream again at every wait.
    #[tokio::test]
    async fn without_the_stream_the_agent_long_polls() {
        use axum::{http::StatusCode, routing::get, Router};
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let hits: &'static [AtomicUsize; 2] = Box::leak(Box::new([AtomicUsize::new(0), AtomicUsize::new(0)]));
        for refusal in [StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST] {
            hits.iter().for_each(|h| h.store(0, SeqCst));
            let app = Router::new()
                .route(
                    paths::CONFIG_STREAM,
                    get(move || async move {
                        hits[0].fetch_add(1, SeqCst);
                        refusal
                    }),
                )
                .route(
                    paths::CONFIG,
                    get(|| async {
                        hits[1].fetch_add(1, SeqCst);
                        StatusCode::NO_CONTENT
                    }),
                );
            let client = console(app).await;
            assert_eq!(client.poll_config(0, 1).await.unwrap(), None);
            assert_eq!(client.clone().poll_config(0, 1).await.unwrap(), None);
            assert_eq!(
                (hits[0].load(SeqCst), hits[1].load(SeqCst)),
                (1, 2),
                "{refusal}: one try at the stream, two long polls"
            );
        }
    }

    /// A proxy that passes the handshake on but carries no WebSocket: the stream breaks before
    /// its first answer, and the agent long-polls (in the same wait), not retrying the stream.
    #[tokio::test]
    async fn a_stream_broken_at_once_falls_back_to_long_polls() {
        use axum::{extract::ws::WebSocketUpgrade, http::StatusCode, routing::get, Router};
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let hits: &'static [AtomicUsize; 2] = Box::leak(Box::new([AtomicUsize::new(0), AtomicUsize::new(0)]));
        let broken = move |ws: WebSocketUpgrade| async move {
            hits[0].fetch_add(1, SeqCst);
            ws.on_upgrade(|socket| async move { drop(socket) })
        };
        let app = Router::new().route(paths::CONFIG_STREAM, get(broken)).route(
            paths::CONFIG,
            get(|| async {
                hits[1].fetch_add(1, SeqCst);
                StatusCode::NO_CONTENT
            }),
        );
        let client = console(app).await;
        assert_eq!(client.poll_config(0, 1).await.unwrap(), None, "answered by the long poll");
        assert_eq!(client.poll_config(0, 1).await.unwrap(), None);
        assert_eq!((hits[0].load(SeqCst), hits[1].load(SeqCst)), (1, 2));
    }

    /// A console that refuses the stream's handshake with 401 is a refusal, not a fallback.
    #[tokio::test]
    async fn a_refused_handshake_is_unauthorized() {
        use axum::{http::StatusCode, routing::get, Json, Router};
        let refuse = || async {
            let body = ErrorBody { error_code: "AGENT.0401".into(), error_msg: "replaced".into() };
            (StatusCode::UNAUTHORIZED, Json(body))
        };
        let app = Router::new().route(paths::CONFIG_STREAM, get(refuse)).route(paths::CONFIG, get(refuse));
        let client = console(app).await;
        let e = client.poll_config(0, 5).await.unwrap_err();
        assert!(e.is_unauthorized() && !e.possible_outage(), "{e}");
    }
}
