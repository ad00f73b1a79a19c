//! JSON bodies of the agent API and the login protocol, decoded as each side decodes them: the
//! console through its `AgentJson` extractor (axum's `Json` with the API's rejections), the
//! agent with serde_json. What decodes must encode and decode again to the same value.

use std::cell::RefCell;
use std::fmt::Debug;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use proto::agent::{
    AckRequest, AckResponse, ApiError, Assignment, Facts, HeartbeatRequest, RegisterRequest, RegisterResponse,
};
use proto::login::{LoginAnswer, LoginPolicy, LoginReply, LoginStart, OfflineReport, MAX_LINE_BYTES};
use serde::de::DeserializeOwned;
use serde::Serialize;
use server::agent_api::AgentJson;

thread_local! {
    static RT: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Runs `f` to completion on this thread's runtime.
pub fn block_on<F: std::future::Future>(f: F) -> Option<F::Output> {
    RT.with(|rt| {
        let mut rt = rt.borrow_mut();
        if rt.is_none() {
            *rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
        }
        rt.as_ref().map(|rt| rt.block_on(f))
    })
}

/// The console's decoding of a request body.
fn console<T>(body: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug + Send + 'static,
{
    let request = Request::builder()
        .method("POST")
        .uri("/agent/v1/x")
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .ok()?;
    let decoded = block_on(AgentJson::<T>::from_request(request, &()))?.ok().map(|AgentJson(v)| v);
    if let Some(v) = &decoded {
        round_trip(v);
    }
    decoded
}

/// The agent's decoding of a response body.
fn agent_side<T>(body: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let decoded = serde_json::from_slice::<T>(body).ok();
    if let Some(v) = &decoded {
        round_trip(v);
    }
    decoded
}

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + Debug>(v: &T) {
    let Ok(json) = serde_json::to_vec(v) else { panic!("{v:?} does not encode") };
    match serde_json::from_slice::<T>(&json) {
        Ok(again) => assert_eq!(&again, v, "round trip changed the value"),
        Err(e) => panic!("{v:?} encodes to {} which does not decode: {e}", String::from_utf8_lossy(&json)),
    }
}

/// The agent API (`/agent/v1`) bodies other than the login's: the first byte picks the type.
pub fn agent_api(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 8 {
        0 => drop(console::<RegisterRequest>(body)),
        1 => drop(console::<Facts>(body)),
        2 => drop(console::<HeartbeatRequest>(body)),
        3 => drop(console::<AckRequest>(body)),
        4 => drop(agent_side::<RegisterResponse>(body)),
        5 => drop(agent_side::<Option<Assignment>>(body)),
        6 => drop(agent_side::<AckResponse>(body)),
        _ => drop(agent_side::<ApiError>(body)),
    }
}

/// The login protocol between agent and console: the first byte picks the type. The agent
/// fits each step to the socket's line and keeps only a sane policy.
pub fn login_protocol(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 5 {
        0 => drop(console::<LoginStart>(body)),
        1 => drop(console::<LoginAnswer>(body)),
        2 => drop(console::<OfflineReport>(body)),
        3 => {
            if let Some(reply) = agent_side::<LoginReply>(body) {
                let step = agent::login::fit(reply.step);
                let line = serde_json::to_vec(&step).unwrap_or_default();
                assert!(!line.is_empty() && line.len() < MAX_LINE_BYTES, "a fitted step is not one line");
            }
        }
        _ => {
            if let Some(policy) = agent_side::<LoginPolicy>(body) {
                let policy = agent::login::sane(policy);
                assert!(policy.exempt_networks.len() <= 100 && policy.break_glass.len() <= 100);
                let networks: Vec<_> =
                    policy.exempt_networks.iter().filter_map(|n| proto::exempt::Network::parse(n)).collect();
                assert!(proto::exempt::families_covered(&networks).is_empty(), "a sane policy exempts everyone");
                for ip in ["10.1.2.3", "::1", "0.0.0.0", "255.255.255.255", "fe80::1", ""] {
                    let _ = proto::exempt::exemption(&policy.exempt_accounts, &networks, "root", ip);
                }
            }
        }
    }
}
