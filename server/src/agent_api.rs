//! The agent API, version 1: versioned JSON under `/agent/v1`, described by the OpenAPI document
//! at `/agent/v1/openapi.json`. Agents register with a one-time install token, then authenticate
//! with their own credential (`Authorization: Bearer …`), which the console stores hashed.

use crate::long_poll::LongPolls;
use crate::push_wait::PushWaits;
use axum::{
    body::Bytes,
    extract::{
        rejection::{JsonRejection, PathRejection, QueryRejection},
        ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State,
    },
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post, put, MethodRouter},
    Json, Router,
};
use domain::{
    agents::{
        self,
        budget::{Kind, WriteBudgets},
    },
    entities::server,
    Ctx, DomainError,
};
use proto::agent::{
    paths, AckRequest, AckResponse, ApiError, Assignment, Facts, HeartbeatRequest, RegisterRequest, RegisterResponse,
    SelinuxMode, SshdDropInCheck, SshdMatchOverride, SshdSetting,
};
use proto::login::{
    Action, BreakGlassHash, FailMode, LoginAnswer, LoginPolicy, LoginReply, LoginResult, LoginStart, OfflineLogin,
    OfflineReport, Step,
};
use serde::Deserialize;
use std::{net::SocketAddr, sync::Arc};
use utoipa::OpenApi;

/// The longest a long poll may wait, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;
/// The longest the console holds an answer call while its login waits for a push decision:
/// well inside the agent's 10 s call timeout, so a held call is never taken for an outage.
pub const PUSH_HOLD: std::time::Duration = std::time::Duration::from_secs(8);
/// The largest request body the agent API reads; facts at their limits fit several times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn routes(ctx: Ctx, long_polls: Arc<LongPolls>) -> Router {
    // Every answer of this API is an `ApiError` body, also a wrong method or an unknown path.
    let json_405 = |r: MethodRouter<Ctx>| {
        r.fallback(|| async { fail(StatusCode::METHOD_NOT_ALLOWED, "AGENT.0405", "method not allowed here") })
    };
    Router::new()
        .route(paths::OPENAPI, json_405(get(|| async { Json(ApiDoc::openapi()) })))
        .route(paths::REGISTER, json_405(post(register)))
        .route(paths::FACTS, json_405(put(facts)))
        .route(paths::HEARTBEAT, json_405(post(heartbeat)))
        .route(paths::CONFIG, json_405(get(config)))
        .route(paths::CONFIG_STREAM, json_405(get(config_stream)))
        .route(paths::ACK, json_405(post(ack)))
        .route(paths::LOGINS, json_405(post(login_start)))
        .route(paths::LOGINS_OFFLINE, json_405(post(login_offline)))
        .route(paths::LOGIN_ANSWER, json_405(post(login_answer)))
        .route(paths::LOGIN_POLICY, json_405(get(login_policy)))
        .route(
            &format!("{}/{{*rest}}", paths::BASE),
            any(|| async { fail(StatusCode::NOT_FOUND, "AGENT.0404", "no such agent API call") }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::Extension(Arc::new(WriteBudgets::default())))
        .layer(axum::Extension(Arc::new(Streams { ctx: ctx.clone(), polls: long_polls.clone() })))
        .layer(axum::Extension(long_polls))
        .layer(axum::Extension(PushWaits::start(ctx.clone())))
        .with_state(ctx)
}

/// `Json<T>` whose rejections (bad JSON, wrong content type, missing field, body too large)
/// answer in the API's error shape instead of axum's plain text. A whole number spelled as a
/// float (`2.0`) is read as the integer it is: JSON Schema, which the OpenAPI document speaks,
/// counts it as one, and serde alone refuses it for an integer field.
pub struct AgentJson<T>(pub T);

impl<T, S> FromRequest<S> for AgentJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(fail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "AGENT.0415",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| rejected(r.status(), r.body_text()))?;
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(AgentJson(v)),
            // Only a body that failed on a whole float is read a second time (agents send plain
            // integers), and never one with a repeated key, which the first reading refuses and
            // a `Value` would quietly take the last of.
            Err(JsonRejection::JsonDataError(e)) if e.body_text().contains("invalid type: floating point") => {
                integers_unfloated(&bytes)
                    .and_then(|v| serde_json::from_value(v).ok())
                    .map(AgentJson)
                    .ok_or_else(|| rejected(e.status(), e.body_text()))
            }
            Err(r) => Err(rejected(r.status(), r.body_text())),
        }
    }
}

/// `application/json`, or a `+json` type, as axum's `Json` takes.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `bytes` as JSON with every whole float (`2.0`, `1e3`) turned into its integer; `None` when
/// there is none (reading again would fail the same way).
fn integers_unfloated(bytes: &[u8]) -> Option<serde_json::Value> {
    use serde_json::Value;
    // Beyond 2^53 a float no longer says which integer it is.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    fn walk(v: &mut Value) -> bool {
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT => {
                    #[allow(clippy::cast_possible_truncation)] // whole and within ±2^53
                    let i = f as i64;
                    *v = Value::from(i);
                    true
                }
                _ => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, x| walk(x) | changed),
            Value::Object(map) => map.values_mut().fold(false, |changed, x| walk(x) | changed),
            _ => false,
        }
    }
    let mut value = serde_json::from_slice::<Value>(bytes).ok()?;
    if has_repeated_key(bytes) {
        return None;
    }
    walk(&mut value).then_some(value)
}

/// Whether any object in the JSON text `bytes` names a key twice (unreadable text counts as yes).
fn has_repeated_key(bytes: &[u8]) -> bool {
    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    struct Unique;
    impl<'de> DeserializeSeed<'de> for Unique {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON without repeated keys")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key) {
                    return Err(A::Error::custom("repeated key"));
                }
                map.next_value_seed(Unique)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Unique)?.is_some() {}
            Ok(())
        }
        fn visit_bool<E: Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E: Error>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E: Error>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique.deserialize(&mut de).and_then(|()| de.end()).is_err()
}

/// `Query<T>` with rejections in the API's error shape.
pub struct AgentQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AgentQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(AgentQuery(v)),
            Err(rejection) => {
                let r: QueryRejection = rejection;
                Err(rejected(r.status(), r.body_text()))
            }
        }
    }
}

/// `Path<T>` with rejections in the API's error shape.
pub struct AgentPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AgentPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(AgentPath(v)),
            Err(rejection) => {
                let r: PathRejection = rejection;
                Err(fail(StatusCode::NOT_FOUND, "AGENT.0404", format!("no such login: {}", r.body_text())))
            }
        }
    }
}

fn rejected(status: StatusCode, text: String) -> Failure {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            return fail(status, "AGENT.0413", format!("the request body is larger than {MAX_BODY_BYTES} bytes"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "AGENT.0415",
        StatusCode::UNPROCESSABLE_ENTITY => "AGENT.0422",
        _ => "AGENT.0400",
    };
    // axum's text names the field serde stopped at (e.g. "facts: missing field `hostname`").
    fail(status, code, text.chars().take(500).collect::<String>())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "HostGuard agent API", version = "1", description = "How the HostGuard agent on a server registers, reports and receives its 2FA configuration."),
    paths(register, facts, heartbeat, config, config_stream, ack, login_start, login_answer, login_policy, login_offline),
    components(schemas(RegisterRequest, RegisterResponse, Facts, SshdMatchOverride, SshdDropInCheck, SshdSetting, SelinuxMode, proto::Method, HeartbeatRequest, Assignment, AckRequest, AckResponse, ApiError,
        LoginStart, LoginAnswer, LoginReply, Step, Action, LoginPolicy, FailMode, BreakGlassHash, OfflineReport, OfflineLogin, LoginResult)),
    modifiers(&BearerAuth, &BodyRefusals)
)]
pub struct ApiDoc;

/// Every call with a JSON body can be refused before its handler runs (by [`AgentJson`]): the
/// document lists those answers once here rather than on each call.
struct BodyRefusals;

impl utoipa::Modify for BodyRefusals {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{path::Operation, ContentBuilder, Ref, ResponseBuilder};
        let refusal = |description: String| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build(),
                )
                .build()
        };
        let refusals = [
            ("400", "the body is not JSON".to_owned()),
            ("413", format!("the body is larger than {MAX_BODY_BYTES} bytes")),
            ("415", "the body is not sent as `Content-Type: application/json`".to_owned()),
            ("422", "a field is missing, has the wrong type or breaks its rule; `error_msg` names it".to_owned()),
        ];
        for item in api.paths.paths.values_mut() {
            let ops: [&mut Option<Operation>; 3] = [&mut item.get, &mut item.put, &mut item.post];
            for op in ops.into_iter().flatten().filter(|op| op.request_body.is_some()) {
                for (status, description) in &refusals {
                    op.responses.responses.insert((*status).to_owned(), refusal(description.clone()).into());
                }
            }
        }
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "agent_credential",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// An error answer; a 429 says in `Retry-After` when to call again.
pub struct Failure(StatusCode, ApiError, Option<u64>);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut res = (self.0, Json(self.1)).into_response();
        if let Some(secs) = self.2 {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

fn fail(status: StatusCode, code: &str, msg: impl Into<String>) -> Failure {
    Failure(status, ApiError { error_code: code.into(), error_msg: msg.into() }, None)
}

/// How long a 429 from a limit kept in the database asks the agent to wait.
const RETRY_LIMITED_SECS: u64 = 60;

impl From<DomainError> for Failure {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Unauthenticated => fail(
                StatusCode::UNAUTHORIZED,
                "AGENT.0401",
                "the credential or install token is not valid (unknown, used, expired or replaced)",
            ),
            DomainError::Invalid(errors) => fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "AGENT.0422",
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            ),
            DomainError::NotFound(what) => fail(StatusCode::NOT_FOUND, "AGENT.0404", format!("no such {what}")),
            DomainError::Conflict(msg) => fail(StatusCode::CONFLICT, "AGENT.0409", msg),
            DomainError::RateLimited(msg) => Failure(
                StatusCode::TOO_MANY_REQUESTS,
                ApiError { error_code: "AGENT.0429".into(), error_msg: msg },
                Some(RETRY_LIMITED_SECS),
            ),
            // A busy database too: 500 is an answer, so the login is refused. A 503 would have
            // the agent probe for an outage, and a console only overloaded is not down.
            other => {
                tracing::error!(error = %other, "agent API failure");
                fail(StatusCode::INTERNAL_SERVER_ERROR, "AGENT.0500", "internal error; try again")
            }
        }
    }
}

/// The server whose agent is calling, from its bearer credential.
pub struct Agent(server::Model);

impl FromRequestParts<Ctx> for Agent {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Self::Rejection> {
        Ok(Agent(agents::authenticate(ctx, bearer(&parts.headers)?).await?))
    }
}

/// The agent credential of `Authorization: Bearer …`.
fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, Failure> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match header.and_then(|h| h.strip_prefix("Bearer ")) {
        Some(credential) => Ok(credential.trim()),
        None => Err(fail(StatusCode::UNAUTHORIZED, "AGENT.0401", "send the agent credential as Authorization: Bearer")),
    }
}

impl Agent {
    /// Spends one call of `kind` from this agent's budget (429 with `Retry-After` past it).
    fn spend(&self, budgets: &WriteBudgets, kind: Kind) -> Result<(), Failure> {
        budgets.take(self.0.id, kind, std::time::Instant::now()).map_err(|secs| {
            Failure(
                StatusCode::TOO_MANY_REQUESTS,
                ApiError {
                    error_code: "AGENT.0429".into(),
                    error_msg: format!(
                        "this agent is calling too often ({}); try again in {secs} s",
                        match kind {
                            Kind::Logins => "logins",
                            Kind::Reports => "facts, heartbeats, acknowledgements and offline reports",
                        }
                    ),
                },
                Some(secs),
            )
        })
    }
}

type Budgets = axum::Extension<Arc<WriteBudgets>>;

/// The caller's address, for the audit trail ("" when the server runs without connect info).
pub struct SourceIp(String);

impl<S: Send + Sync> FromRequestParts<S> for SourceIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|a| a.0.ip().to_string());
        Ok(SourceIp(ip.unwrap_or_default()))
    }
}

/// Registers the agent with a one-time token. An install token adds a new server (or takes over a
/// pre-registered one without an agent); only a re-install token, issued on a server's page,
/// replaces the agent of a server that has one.
#[utoipa::path(post, path = paths::REGISTER, request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 401, body = ApiError, description = "unknown, used, revoked or expired token"),
        (status = 409, body = ApiError, description = "the server of a re-install token no longer exists")))]
async fn register(
    State(ctx): State<Ctx>,
    SourceIp(ip): SourceIp,
    AgentJson(req): AgentJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), Failure> {
    let r = agents::register(&ctx, &req.install_token, &req.facts, &ip).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            server_id: r.server_id,
            credential: secrecy::ExposeSecret::expose_secret(&r.credential).to_owned(),
        }),
    ))
}

/// Replaces the server's facts.
#[utoipa::path(put, path = paths::FACTS, request_body = Facts, security(("agent_credential" = [])),
    responses((status = 204), (status = 401, body = ApiError), (status = 429, body = ApiError, description = "calling too often; see Retry-After")))]
async fn facts(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    agent: Agent,
    AgentJson(body): AgentJson<Facts>,
) -> Result<StatusCode, Failure> {
    agent.spend(&budgets, Kind::Reports)?;
    let s = agent.0;
    agents::report_facts(&ctx, &s, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Says the agent is alive; the console shows it online.
#[utoipa::path(post, path = paths::HEARTBEAT, request_body = HeartbeatRequest, security(("agent_credential" = [])),
    responses((status = 204), (status = 401, body = ApiError), (status = 429, body = ApiError, description = "calling too often; see Retry-After")))]
async fn heartbeat(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    SourceIp(ip): SourceIp,
    agent: Agent,
    AgentJson(body): AgentJson<HeartbeatRequest>,
) -> Result<StatusCode, Failure> {
    agent.spend(&budgets, Kind::Reports)?;
    let s = agent.0;
    if body.agent_version.chars().count() > agents::limits::AGENT_VERSION {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "AGENT.0422",
            format!("agent_version: must be at most {} characters", agents::limits::AGENT_VERSION),
        ));
    }
    agents::heartbeat(&ctx, &s, body.applied_revision, &ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// The revision the agent has applied; only a newer one is returned. 0 when left out.
    #[serde(default)]
    pub after: i64,
    /// Seconds to wait for a newer revision, 0 to 30 (`MAX_WAIT_SECS`). 0 when left out.
    #[serde(default)]
    #[param(minimum = 0, maximum = 30)]
    pub wait: u64,
}

/// The time a long poll or a stream's wait may be held: `wait` seconds, at most
/// [`MAX_WAIT_SECS`] (422 naming the rule past it).
fn wait_limit(wait: u64) -> Result<std::time::Duration, Failure> {
    if wait > MAX_WAIT_SECS {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "AGENT.0422",
            format!("wait: must be 0 to {MAX_WAIT_SECS}"),
        ));
    }
    Ok(std::time::Duration::from_secs(wait))
}

/// Long poll for the next revision: answers at once when there is one newer than `after`,
/// otherwise waits up to `wait` seconds and answers 204.
#[utoipa::path(get, path = paths::CONFIG, params(ConfigQuery), security(("agent_credential" = [])),
    responses((status = 200, body = Assignment), (status = 204, description = "nothing newer"), (status = 400, body = ApiError, description = "`after` or `wait` is not a whole number in its type's range"),
        (status = 401, body = ApiError), (status = 422, body = ApiError, description = "`wait` is more than 30")))]
async fn config(
    State(ctx): State<Ctx>,
    axum::Extension(long_polls): axum::Extension<Arc<LongPolls>>,
    Agent(s): Agent,
    AgentQuery(q): AgentQuery<ConfigQuery>,
) -> Result<Response, Failure> {
    let wait = wait_limit(q.wait)?;
    let found = crate::long_poll::wait_for_assignment(&ctx, &long_polls, s.id, q.after, wait).await?;
    Ok(match found {
        Some(a) => Json(a).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// How long the config stream stays open with no wait asked for.
const STREAM_IDLE: std::time::Duration = std::time::Duration::from_secs(120);
/// Messages (waits, and pings) one config stream may send in [`STREAM_WINDOW`]; an agent asks
/// about twice a minute, and a stream sending more is closed (each wait reads the database).
const STREAM_WAITS: u32 = 30;
const STREAM_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// A wait is a few dozen bytes; anything bigger is not one.
const STREAM_MAX_MESSAGE: usize = 1024;
/// What a stream's socket reads at a time: a wait and its frame header, with room to spare (a
/// longer message grows the buffer up to [`STREAM_MAX_MESSAGE`]).
const STREAM_READ_BUFFER: usize = 128;

/// The long poll over one WebSocket the agent keeps open ([`paths::CONFIG_STREAM`]): each
/// `StreamWait` it sends is answered by one `StreamAnswer`, as `config` would answer. The
/// socket costs a few kB while it waits, where a long poll holds an HTTP connection's buffers
/// and a request in flight. The credential is checked again for every wait after the first
/// (which follows the handshake's check), so a replaced or revoked one ends the stream at the
/// next wait, as it would end the next long poll.
#[utoipa::path(get, path = paths::CONFIG_STREAM, security(("agent_credential" = [])),
    description = "WebSocket (RFC 6455). The agent sends text messages `{\"after\": <revision>, \"wait\": <0 to 30>}`, one at a time; each is answered by one text message: `{\"assignment\": Assignment}`, `{}` when there is none after `wait` seconds, or `{\"status\": <HTTP status>, \"error\": ApiError}`, after which the console closes the stream. The stream closes after 120 s with no wait asked, at more than 30 messages a minute (pings count), at anything that is not a wait, or when an answer is not taken within 10 s; one stream per server: a newer one ends the older.",
    responses((status = 101, description = "switching to the WebSocket"), (status = 400, body = ApiError, description = "not a WebSocket handshake"), (status = 401, body = ApiError),
        (status = 503, body = ApiError, description = "as many streams are open as the console takes (`HOSTGUARD_MAX_CONNECTIONS`): long-poll instead")))]
async fn config_stream(
    axum::Extension(streams): axum::Extension<Arc<Streams>>,
    headers: axum::http::HeaderMap,
    Agent(s): Agent,
    upgrade: Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, Failure> {
    let upgrade = upgrade.map_err(|r| rejected(StatusCode::BAD_REQUEST, r.body_text()))?;
    let credential = bearer(&headers)?.to_owned();
    let Some(slot) = streams.polls.stream_slot() else {
        return Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "AGENT.0503",
            "no room for another stream; long-poll instead",
        ));
    };
    let upgrade = upgrade
        // Small buffers: thousands of these wait at once, each reading a few dozen bytes.
        .read_buffer_size(STREAM_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(STREAM_MAX_MESSAGE)
        .max_frame_size(STREAM_MAX_MESSAGE);
    let turn = streams.polls.take_turn(s.id);
    let open = Box::new(OpenStream {
        server_id: s.id,
        checked: std::time::Instant::now(),
        credential,
        turn,
        _slot: slot,
        streams,
    });
    // The socket's task runs `stream` alone, holding a pointer to the rest: a task that held
    // the context, and a future that took it by value, would each keep a copy.
    Ok(upgrade.on_upgrade(move |socket| stream(open, socket)))
}

/// What every config stream shares: the context and the waits, one copy for the console.
pub struct Streams {
    ctx: Ctx,
    polls: Arc<LongPolls>,
}

/// What one open config stream keeps besides its socket (boxed once, at the handshake).
struct OpenStream {
    streams: Arc<Streams>,
    server_id: uuid::Uuid,
    credential: String,
    /// When the handshake checked the credential.
    checked: std::time::Instant,
    /// Ends the stream when a newer one of the same server opens.
    turn: crate::long_poll::StreamTurn,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

async fn stream(open: Box<OpenStream>, mut socket: axum::extract::ws::WebSocket) {
    use axum::extract::ws::Message;
    use proto::agent::StreamAnswer;
    let mut window = (std::time::Instant::now(), 0u32);
    // The handshake checked the credential (at `checked`): the first wait, right after it, need
    // not again (agents reconnecting at once after a restart make one query each, not two).
    let mut fresh = true;
    loop {
        let message = tokio::select! {
            message = tokio::time::timeout(STREAM_IDLE, socket.recv()) => match message {
                Ok(Some(Ok(message))) => message,
                // Closed, broken or idle.
                _ => return,
            },
            // A newer stream of this server took over: this one ends.
            () = open.turn.ended() => return,
        };
        // Every message counts, pings too (tungstenite answers them itself).
        let now = std::time::Instant::now();
        if now.duration_since(window.0) > STREAM_WINDOW {
            window = (now, 0);
        }
        window.1 += 1;
        let over = window.1 > STREAM_WAITS;
        let text = match message {
            Message::Text(text) => text,
            Message::Ping(_) | Message::Pong(_) if !over => continue,
            // Binary (not this protocol), a close, or pings past the limit.
            _ => return,
        };
        let answer = if over {
            Err(fail(
                StatusCode::TOO_MANY_REQUESTS,
                "AGENT.0429",
                format!("at most {STREAM_WAITS} waits a minute on one stream; open a new one"),
            ))
        } else {
            let recheck = !std::mem::take(&mut fresh) || open.checked.elapsed() >= STREAM_FRESH;
            // Boxed: the socket's task keeps only what a wait needs, not the queries' futures.
            Box::pin(stream_wait(&open, recheck, &text, &mut socket)).await
        };
        let (answer, last) = match answer {
            Ok(Some(assignment)) => (StreamAnswer { assignment, ..Default::default() }, false),
            // The agent hung up while it waited, or a newer stream took over.
            Ok(None) => return,
            Err(Failure(status, error, _)) => {
                (StreamAnswer { status: Some(status.as_u16()), error: Some(error), ..Default::default() }, true)
            }
        };
        let Ok(json) = serde_json::to_string(&answer) else { return };
        // Bounded: a client that asks but never reads must not hold the socket's task forever.
        let sent = tokio::time::timeout(STREAM_SEND, socket.send(Message::Text(json.into()))).await;
        if !matches!(sent, Ok(Ok(()))) || last {
            let _ = tokio::time::timeout(STREAM_SEND, socket.send(Message::Close(None))).await;
            return;
        }
    }
}

/// The longest the console waits to hand an answer to an agent's socket.
const STREAM_SEND: std::time::Duration = std::time::Duration::from_secs(10);

/// How soon after the handshake a first wait may skip checking the credential again.
const STREAM_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// One wait of a config stream: `Ok(Some(answer))`, `Ok(None)` when the agent hung up (or sent
/// anything) while waiting or a newer stream took over, or the failure the long poll would have
/// answered with. The credential is checked again when `recheck` (not just checked by the
/// handshake).
async fn stream_wait(
    open: &OpenStream,
    recheck: bool,
    text: &str,
    socket: &mut axum::extract::ws::WebSocket,
) -> Result<Option<Option<Assignment>>, Failure> {
    let wait: proto::agent::StreamWait = serde_json::from_str(text).map_err(|e| {
        fail(StatusCode::BAD_REQUEST, "AGENT.0400", format!("not a wait ({{\"after\": n, \"wait\": s}}): {e}"))
    })?;
    let limit = wait_limit(wait.wait)?;
    let Streams { ctx, polls } = &*open.streams;
    // Again for every later wait: a credential replaced or revoked since the stream opened ends
    // it. Boxed, as the query in the wait: the wait's future keeps a pointer, not its state.
    if recheck {
        let _turn = polls.query_turn().await;
        let s = Box::pin(agents::authenticate(ctx, &open.credential)).await?;
        if s.id != open.server_id {
            return Err(DomainError::Unauthenticated.into());
        }
    }
    tokio::select! {
        found = crate::long_poll::wait_for_assignment(ctx, polls, open.server_id, wait.after, limit) => Ok(Some(found?)),
        _ = socket.recv() => Ok(None),
        () = open.turn.ended() => Ok(None),
    }
}

/// Reports the outcome of applying a revision.
#[utoipa::path(post, path = paths::ACK, request_body = AckRequest, security(("agent_credential" = [])),
    responses((status = 200, body = AckResponse), (status = 401, body = ApiError), (status = 429, body = ApiError, description = "calling too often; see Retry-After")))]
async fn ack(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    SourceIp(ip): SourceIp,
    agent: Agent,
    AgentJson(req): AgentJson<AckRequest>,
) -> Result<Json<AckResponse>, Failure> {
    // Checked whatever `ok` says: the document's rule holds for every acknowledgement.
    if req.error.as_deref().is_some_and(|e| e.chars().count() > agents::limits::ACK_ERROR) {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "AGENT.0422",
            format!("error: must be at most {} characters", agents::limits::ACK_ERROR),
        ));
    }
    agent.spend(&budgets, Kind::Reports)?;
    let s = agent.0;
    let outcome = if req.ok {
        Ok(())
    } else {
        Err(req.error.filter(|e| !e.trim().is_empty()).unwrap_or_else(|| "no reason given".into()))
    };
    let accepted = agents::acknowledge(&ctx, &s, req.revision, outcome, &ip).await?;
    Ok(Json(AckResponse { accepted }))
}

/// A login reached the server's PAM module (after the password): the console records it and
/// answers with its first step.
#[utoipa::path(post, path = paths::LOGINS, request_body = LoginStart, security(("agent_credential" = [])),
    responses((status = 200, body = LoginReply), (status = 401, body = ApiError),
        (status = 429, body = ApiError, description = "too many logins to this server in a minute, or the agent calls too often; see Retry-After")))]
async fn login_start(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    agent: Agent,
    AgentJson(req): AgentJson<LoginStart>,
) -> Result<Json<LoginReply>, Failure> {
    agent.spend(&budgets, Kind::Logins)?;
    let s = agent.0;
    Ok(Json(domain::logins::start(&ctx, &s, &req).await?))
}

/// The user's answer to the last prompt of one of this server's logins. Another server's login
/// is "not found".
#[utoipa::path(post, path = paths::LOGIN_ANSWER, request_body = LoginAnswer, security(("agent_credential" = [])),
    params(("login_id" = uuid::Uuid, Path, description = "from the reply that opened the login")),
    responses((status = 200, body = LoginReply), (status = 401, body = ApiError), (status = 404, body = ApiError, description = "no such login of this server"), (status = 429, body = ApiError, description = "the agent calls too often; see Retry-After")))]
///
/// An empty answer at a push prompt waits for the push's decision: the call is held (at most
/// [`PUSH_HOLD`]) until the request is decided or expires, then answered with the outcome; a
/// request still pending then answers the same prompt with `ask_again`, and the agent asks again.
async fn login_answer(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    axum::Extension(push_waits): axum::Extension<Arc<PushWaits>>,
    agent: Agent,
    AgentPath(login_id): AgentPath<uuid::Uuid>,
    AgentJson(req): AgentJson<LoginAnswer>,
) -> Result<Json<LoginReply>, Failure> {
    agent.spend(&budgets, Kind::Logins)?;
    let s = agent.0;
    let answered = domain::logins::answer_or_wait(&ctx, &s, login_id, &req.answer).await?;
    let Some(waiting) = answered.waiting else { return Ok(Json(answered.reply)) };
    // Past the request's expiry by a little, so the expiry is read, not guessed.
    let left = (waiting.expires_at - ctx.clock.now()).to_std().unwrap_or_default();
    let hold = PUSH_HOLD.min(left + std::time::Duration::from_millis(200));
    push_waits.wait(waiting.request_id, hold).await;
    let mut again = domain::logins::answer_or_wait(&ctx, &s, login_id, "").await?;
    again.reply.ask_again = again.waiting.is_some();
    Ok(Json(again.reply))
}

/// What the agent needs to decide logins alone while the console is unreachable: the fail
/// mode, the exemptions and the hashes of the unused break-glass codes.
#[utoipa::path(get, path = paths::LOGIN_POLICY, security(("agent_credential" = [])),
    responses((status = 200, body = LoginPolicy), (status = 401, body = ApiError)))]
async fn login_policy(State(ctx): State<Ctx>, Agent(s): Agent) -> Result<Json<LoginPolicy>, Failure> {
    Ok(Json(domain::logins::settings::policy(&ctx, &s).await?))
}

/// Logins the agent decided alone while the console was unreachable. A login already reported
/// (same id) is skipped, so the agent may send a report again.
#[utoipa::path(post, path = paths::LOGINS_OFFLINE, request_body = OfflineReport, security(("agent_credential" = [])),
    responses((status = 204), (status = 401, body = ApiError),
        (status = 429, body = ApiError, description = "the agent calls too often, or the server reported its offline logins' daily cap; keep them and send again after Retry-After, in smaller reports")))]
async fn login_offline(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    agent: Agent,
    AgentJson(report): AgentJson<OfflineReport>,
) -> Result<StatusCode, Failure> {
    agent.spend(&budgets, Kind::Reports)?;
    let s = agent.0;
    domain::logins::settings::report_offline(&ctx, &s, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::{has_repeated_key, integers_unfloated};

    #[test]
    fn whole_floats_are_read_again_only_without_repeated_keys() {
        assert_eq!(integers_unfloated(br#"{"revision":3.0}"#), Some(serde_json::json!({"revision": 3})));
        // A Value keeps the last of two keys, where the typed reading refuses them: never read again.
        assert_eq!(integers_unfloated(br#"{"ok":false,"ok":true,"revision":3.0}"#), None);
        assert_eq!(integers_unfloated(br#"{"a":{"ok":1,"ok":2},"revision":3.0}"#), None);
        assert!(has_repeated_key(br#"[{"x":1},{"y":[{"z":1,"z":2}]}]"#));
        assert!(!has_repeated_key(br#"[{"x":1},{"x":1,"y":[{"z":1.5,"w":null,"v":"s","u":true}]}]"#));
        assert!(has_repeated_key(b"{not json"));
        // Nothing whole to change: the first refusal stands.
        assert_eq!(integers_unfloated(br#"{"revision":0.5}"#), None);
    }
}
