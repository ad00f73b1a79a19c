//! The portal's live feed of push requests: `GET /portal/approvals/events`, server-sent events
//! for the signed-in end user. Each open stream looks at the person's pending requests every
//! [`POLL`] and sends them when they change (a new one, one decided or expired); it takes a
//! database connection only for that look, never between looks, so open portals cost the pool
//! nothing while they wait. Pauses of notifications do not apply here: a person who opens the
//! portal sees every request. A stream ends after [`STREAM_LIFETIME`] and the browser
//! reconnects; the session and the person are looked at again on every poll, so a stream ends
//! within a poll of its session ending (sign-out, expiry) or the person being locked. Streams are capped per person
//! ([`MAX_PER_PERSON`]) and in all ([`MAX_STREAMS`]), so open tabs cannot load the database
//! without bound.

use crate::session_store::DbSessionStore;
use app::{
    functions::ssr::{SIGNED_IN_AT, USER_ID},
    models::PendingPush,
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::get,
    Router,
};
use domain::{Ctx, Role};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tower_sessions::{session::Id, Session, SessionStore};
use uuid::Uuid;

pub const PATH: &str = "/portal/approvals/events";
/// How often a stream looks for changes: a new request shows within this.
pub const POLL: Duration = Duration::from_millis(500);
/// How long one stream lives before the browser reconnects (and the session is checked again).
pub const STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// Open streams of one person (tabs and devices) at once.
pub const MAX_PER_PERSON: usize = 5;
/// Open streams of everyone at once.
pub const MAX_STREAMS: usize = 2_000;

pub fn routes<S: Clone + Send + Sync + 'static>(ctx: Ctx) -> Router<S> {
    let store = DbSessionStore::new(ctx.db.clone());
    Router::new().route(PATH, get(events)).with_state(Feeds { ctx, store, open: Arc::default() })
}

#[derive(Clone)]
struct Feeds {
    ctx: Ctx,
    /// Where the stream looks at its session again on every poll.
    store: DbSessionStore,
    /// Open streams per person.
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One open stream's place in the count, given back when the stream ends.
struct Slot {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    user_id: Uuid,
}

impl Slot {
    fn take(open: &Arc<Mutex<HashMap<Uuid, usize>>>, user_id: Uuid) -> Option<Slot> {
        let mut counts = open.lock().ok()?;
        let total: usize = counts.values().sum();
        let mine = counts.entry(user_id).or_insert(0);
        if *mine >= MAX_PER_PERSON || total >= MAX_STREAMS {
            return None;
        }
        *mine += 1;
        Some(Slot { open: open.clone(), user_id })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.open.lock() {
            if let Some(n) = counts.get_mut(&self.user_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&self.user_id);
                }
            }
        }
    }
}

/// The signed-in end user's id and tenant, as the server functions find them.
async fn end_user(ctx: &Ctx, session: &Session) -> Result<(Uuid, Uuid), StatusCode> {
    let store = |e| {
        tracing::error!(error = %e, "session store error");
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let user_id = session.get::<Uuid>(USER_ID).await.map_err(store)?.ok_or(StatusCode::UNAUTHORIZED)?;
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await.map_err(store)?.unwrap_or(0);
    if ctx.clock.now().timestamp() - signed_in_at > ctx.sessions.absolute.num_seconds() {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let caller = domain::accounts::caller(ctx, user_id).await.map_err(|_| StatusCode::UNAUTHORIZED)?;
    if caller.role != Role::EndUser {
        return Err(StatusCode::FORBIDDEN);
    }
    Ok((caller.user_id, caller.tenant_id.ok_or(StatusCode::FORBIDDEN)?))
}

async fn events(State(feeds): State<Feeds>, session: Session, headers: HeaderMap) -> Response {
    let ctx = feeds.ctx;
    // Only this console's own pages may open the feed: it shows where logins come from.
    if let Some(reason) = crate::csrf::cross_site(&headers) {
        tracing::warn!(reason, "cross-site approvals feed refused");
        return (StatusCode::FORBIDDEN, format!("cross-site request refused: {reason}")).into_response();
    }
    let (user_id, tenant_id) = match end_user(&ctx, &session).await {
        Ok(who) => who,
        Err(status) => return status.into_response(),
    };
    let Some(session_id) = session.id() else { return StatusCode::UNAUTHORIZED.into_response() };
    let Some(slot) = Slot::take(&feeds.open, user_id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("at most {MAX_PER_PERSON} live feeds of approvals at once; close a tab of this page"),
        )
            .into_response();
    };
    let started = Instant::now();
    let state =
        Feed { ctx, store: feeds.store, session_id, tenant_id, user_id, last: None, started, first: true, _slot: slot };
    let stream = futures_util::stream::unfold(state, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok::<_, std::convert::Infallible>(event), feed))
    });
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    // Proxies that buffer (nginx) would hold the events back.
    response.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    response
}

struct Feed {
    ctx: Ctx,
    store: DbSessionStore,
    session_id: Id,
    tenant_id: Uuid,
    user_id: Uuid,
    last: Option<Vec<PendingPush>>,
    started: Instant,
    first: bool,
    _slot: Slot,
}

impl Feed {
    /// Whether the stream's session still stands: in the store (not signed out, not expired,
    /// not ended by "sign out other sessions"), for this person, within its absolute lifetime,
    /// and the person still active (not locked or removed). Looked at on every poll, so a
    /// session that ends stops its feeds within [`POLL`]; a store error ends the stream too.
    async fn still_signed_in(&self) -> bool {
        let record = match self.store.load(&self.session_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the live feed's session; ending the feed");
                return false;
            }
        };
        let user = record.data.get(USER_ID).and_then(|v| serde_json::from_value::<Uuid>(v.clone()).ok());
        let signed_in_at = record.data.get(SIGNED_IN_AT).and_then(serde_json::Value::as_i64).unwrap_or(0);
        if user != Some(self.user_id)
            || self.ctx.clock.now().timestamp() - signed_in_at > self.ctx.sessions.absolute.num_seconds()
        {
            return false;
        }
        matches!(
            domain::accounts::caller(&self.ctx, self.user_id).await,
            Ok(c) if c.role == Role::EndUser && c.tenant_id == Some(self.tenant_id)
        )
    }

    /// The next event: the pending list once it differs from the last one sent; `None` once the
    /// stream has lived its time.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if !self.first {
                tokio::time::sleep(POLL).await;
            }
            if self.started.elapsed() >= STREAM_LIFETIME || !self.still_signed_in().await {
                return None;
            }
            let now = self.ctx.clock.now();
            let found = match domain::push::decide::pending_for(&self.ctx.db, self.tenant_id, self.user_id, now).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read pending push requests for the live feed");
                    self.first = false;
                    continue;
                }
            };
            let rows: Vec<PendingPush> = found
                .into_iter()
                .map(|r| PendingPush {
                    id: r.id,
                    server: r.server_name,
                    account: r.account,
                    source_ip: r.source_ip,
                    requested: r.created_at,
                    expires: r.expires_at,
                    seconds_left: r.seconds_left,
                })
                .collect();
            let ids = |v: &[PendingPush]| v.iter().map(|r| r.id).collect::<Vec<_>>();
            let changed = self.last.as_deref().is_none_or(|last| ids(last) != ids(&rows));
            if !changed {
                self.first = false;
                continue;
            }
            let data = match serde_json::to_string(&rows) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode pending push requests");
                    return None;
                }
            };
            // The first event also tells the browser to come back quickly after the stream ends.
            let mut event = Event::default().event("pending").data(data);
            if self.first {
                event = event.retry(Duration::from_millis(1000));
            }
            self.first = false;
            self.last = Some(rows);
            return Some(event);
        }
    }
}
