//! The agent API, version 1: versioned JSON under `/agent/v1`, described by the OpenAPI document
//! at `/agent/v1/openapi.json`. Agents register with a one-time install token, then authenticate
//! with their own credential (`Authorization: Bearer …`), which the console stores hashed.

use axum::{
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
use crate::long_poll::LongPolls;
use crate::push_wait::PushWaits;
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
        .layer(axum::Extension(long_polls))
        .layer(axum::Extension(PushWaits::start(ctx.clone())))
        .with_state(ctx)
}

/// `Json<T>` whose rejections (bad JSON, wrong content type, missing field, body too large)
/// answer in the API's error shape instead of axum's plain text.
pub struct AgentJson<T>(pub T);

impl<T, S> FromRequest<S> for AgentJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(AgentJson(v)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
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
    paths(register, facts, heartbeat, config, ack, login_start, login_answer, login_policy, login_offline),
    components(schemas(RegisterRequest, RegisterResponse, Facts, SshdMatchOverride, SshdDropInCheck, SshdSetting, SelinuxMode, proto::Method, HeartbeatRequest, Assignment, AckRequest, AckResponse, ApiError,
        LoginStart, LoginAnswer, LoginReply, Step, Action, LoginPolicy, FailMode, BreakGlassHash, OfflineReport, OfflineLogin, LoginResult)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

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
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(credential) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "AGENT.0401",
                "send the agent credential as Authorization: Bearer",
            ));
        };
        Ok(Agent(agents::authenticate(ctx, credential.trim()).await?))
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
    responses((status = 201, body = RegisterResponse), (status = 400, body = ApiError, description = "not JSON"), (status = 401, body = ApiError, description = "unknown, used, revoked or expired token"),
        (status = 409, body = ApiError, description = "the server of a re-install token no longer exists"), (status = 413, body = ApiError), (status = 422, body = ApiError)))]
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
    responses((status = 204), (status = 401, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError, description = "calling too often; see Retry-After")))]
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
pub struct ConfigQuery {
    /// The revision the agent has applied; only a newer one is returned.
    #[serde(default)]
    pub after: i64,
    /// Seconds to wait for a newer revision (0 to 30).
    #[serde(default)]
    pub wait: u64,
}

/// Long poll for the next revision: answers at once when there is one newer than `after`,
/// otherwise waits up to `wait` seconds and answers 204.
#[utoipa::path(get, path = paths::CONFIG, params(ConfigQuery), security(("agent_credential" = [])),
    responses((status = 200, body = Assignment), (status = 204, description = "nothing newer"), (status = 401, body = ApiError), (status = 422, body = ApiError)))]
async fn config(
    State(ctx): State<Ctx>,
    axum::Extension(long_polls): axum::Extension<Arc<LongPolls>>,
    Agent(s): Agent,
    AgentQuery(q): AgentQuery<ConfigQuery>,
) -> Result<Response, Failure> {
    if q.wait > MAX_WAIT_SECS {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "AGENT.0422",
            format!("wait: must be 0 to {MAX_WAIT_SECS}"),
        ));
    }
    let wait = std::time::Duration::from_secs(q.wait);
    let found = crate::long_poll::wait_for_assignment(&ctx, &long_polls, s.id, q.after, wait).await?;
    Ok(match found {
        Some(a) => Json(a).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Reports the outcome of applying a revision.
#[utoipa::path(post, path = paths::ACK, request_body = AckRequest, security(("agent_credential" = [])),
    responses((status = 200, body = AckResponse), (status = 401, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError, description = "calling too often; see Retry-After")))]
async fn ack(
    State(ctx): State<Ctx>,
    axum::Extension(budgets): Budgets,
    SourceIp(ip): SourceIp,
    agent: Agent,
    AgentJson(req): AgentJson<AckRequest>,
) -> Result<Json<AckResponse>, Failure> {
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
    responses((status = 200, body = LoginReply), (status = 401, body = ApiError), (status = 422, body = ApiError),
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
    responses((status = 200, body = LoginReply), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError, description = "the agent calls too often; see Retry-After")))]
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
    responses((status = 204), (status = 401, body = ApiError), (status = 422, body = ApiError),
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
