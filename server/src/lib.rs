//! The HostGuard server: configuration, wiring, sessions, and the routes around the Leptos
//! console. Business rules live in the `domain` crate.

pub mod agent_api;
pub mod approval_events;
pub mod config;
mod csrf;
pub mod delivery;
pub mod hss_api;
pub mod long_poll;
pub mod push_wait;
pub mod rollout_worker;
pub mod serve;
pub mod session_store;
mod telemetry;

use app::{shell, App};
use axum::{extract::State, http::StatusCode, routing::get, Router};
use config::Config;
use domain::{clock::Clock, lockout::LockoutPolicy, Ctx};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretBox};
use session_store::DbSessionStore;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_sessions::{cookie::SameSite, session_store::ExpiredDeletion, Expiry, SessionManagerLayer};

pub use telemetry::init_tracing;

/// The session cookie's name over plain http; over HTTPS it is `__Host-` prefixed (see
/// `Ctx::session_cookie`).
pub use domain::device_accounts::{SECURE_SESSION_COOKIE, SESSION_COOKIE};

/// A console ready to serve: its router and the context its rules run with.
pub struct Console {
    pub router: Router,
    pub ctx: Ctx,
    /// True when this start created the demo data.
    pub demo_created: bool,
}

/// Connects to the database, applies migrations, seeds demo data if asked, and builds the router.
pub async fn build(
    config: &Config,
    leptos_options: LeptosOptions,
    clock: Arc<dyn Clock>,
    lockout: LockoutPolicy,
) -> Result<Console, String> {
    // A public console without its secret key would have to let operators in with a password
    // alone (or no one in): refuse to start instead.
    if config.public_url.starts_with("https://") && config.secret_key.is_none() {
        return Err(format!(
            "HOSTGUARD_SECRET_KEY: must be set when HOSTGUARD_PUBLIC_URL is https ({}): without it the console \
             cannot keep the second factor operators and tenant admins sign in with",
            config.public_url
        ));
    }
    let db = domain::db::connect(&config.database_url).await.map_err(|e| format!("cannot open the database: {e}"))?;
    domain::db::migrate(&db).await.map_err(|e| format!("cannot apply migrations: {e}"))?;
    let long_polls = Arc::new(long_poll::LongPolls::new(config.limits.max_connections));
    let web_push = match &config.vapid_private_key {
        Some(key) => Some(delivery::webpush::WebPush::new(
            delivery::webpush::Vapid::new(key.expose_secret(), &config.vapid_subject)?,
            config.webpush_allow_loopback,
        )?),
        None => None,
    };
    let ctx = Ctx {
        commits: domain::group_commit::GroupCommit::new(),
        db,
        clock,
        lockout,
        sessions: config.sessions,
        public_url: config.public_url.clone(),
        outbox_signal: Default::default(),
        rollout: domain::ctx::RolloutPolicy {
            apply_delay: chrono::Duration::from_std(config.apply_delay).map_err(|e| e.to_string())?,
            ack_deadline: chrono::Duration::from_std(config.ack_deadline).map_err(|e| e.to_string())?,
        },
        secret_key: config.secret_key.as_ref().map(|k| Arc::new(SecretBox::new(Box::new(*k.expose_secret())))),
        agent_signals: long_polls.clone(),
        password_checks: domain::ctx::password_check_slots(),
        vapid_public_key: web_push.as_ref().map(|w| w.vapid().public_key().to_owned()),
        webpush_allow_loopback: config.webpush_allow_loopback,
    };
    if ctx.secret_key.is_none() {
        tracing::warn!(
            "no HOSTGUARD_SECRET_KEY: console authenticators cannot be kept, so operators and tenant admins who need one cannot sign in"
        );
    }
    let transports = delivery::Transports::from_config(config)?;
    delivery::spawn_worker(ctx.clone(), transports, config.delivery_poll);
    match web_push {
        // Pending requests live 60 s: notify within half a second.
        Some(w) => drop(delivery::webpush::spawn_notifier(ctx.clone(), w, std::time::Duration::from_millis(500))),
        None => tracing::info!("Web Push is off: set HOSTGUARD_VAPID_PRIVATE_KEY to notify closed portals"),
    }
    rollout_worker::spawn(ctx.clone(), long_polls.clone(), config.delivery_poll);
    spawn_purge(ctx.clone(), config.retention);
    let demo_created =
        config.demo && domain::demo::seed_if_empty(&ctx).await.map_err(|e| format!("cannot create demo data: {e}"))?;
    let router = router(config, ctx.clone(), long_polls, leptos_options);
    Ok(Console { router, ctx, demo_created })
}

fn router(config: &Config, ctx: Ctx, long_polls: Arc<long_poll::LongPolls>, leptos_options: LeptosOptions) -> Router {
    let limits = config.limits;
    let store = DbSessionStore::new(ctx.db.clone());
    let sweeper = store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            every.tick().await;
            if let Err(e) = sweeper.delete_expired().await {
                tracing::warn!(error = %e, "cannot delete expired sessions");
            }
        }
    });
    let idle = time::Duration::seconds(config.sessions.idle.num_seconds());
    // Path=/ and no Domain (tower-sessions' defaults), as the `__Host-` name over HTTPS requires.
    let sessions = SessionManagerLayer::new(store)
        .with_name(ctx.session_cookie())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(ctx.secure_cookies())
        .with_expiry(Expiry::OnInactivity(idle));

    let routes = route_list();
    let provide = {
        let ctx = ctx.clone();
        move || provide_context(ctx.clone())
    };
    let db = ctx.db.clone();
    let hashed = leptos_options.hash_files;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz).with_state(db))
        // The short address an SSH login prompt gives people with a passkey: the Approvals page.
        .route("/a", get(|| async { axum::response::Redirect::to("/portal/approvals") }))
        .merge(hss_api::routes(ctx.clone()))
        .merge(approval_events::routes(ctx.clone()))
        .leptos_routes_with_context(&leptos_options, routes, provide.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(provide, shell))
        .with_state(leptos_options)
        .merge(agent_api::routes(ctx.clone(), long_polls))
        .layer(axum::middleware::from_fn(csrf::refuse_cross_site))
        .layer(axum::middleware::from_fn(move |req, next| serve::body_limit(limits.max_body_bytes, req, next)))
        .layer(axum::middleware::from_fn(move |req, next| serve::request_timeout(limits.request_timeout, req, next)))
        .layer(sessions)
        .layer(axum::middleware::from_fn(move |req, next| serve::cache_control(hashed, req, next)))
        // Pages and server-function answers are compressed as they go out; the static files
        // are precompressed at build time (`cargo leptos build --release --precompress`) and
        // served as such, which this layer leaves alone.
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(axum::middleware::from_fn(serve::no_compression_cross_site))
        .layer(telemetry::propagate_request_id())
        .layer(telemetry::trace_layer())
        .layer(telemetry::set_request_id())
}

/// The console's pages, listed once per process. Listing them runs the app with every resource's
/// loading suppressed by a flag that is global to the process (leptos issue #4773): a page that
/// another console in the same process (the tests run many) rendered meanwhile waited forever
/// for its data.
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Forgets what is past its retention, once at start and then every hour.
fn spawn_purge(ctx: Ctx, retention: domain::retention::Retention) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match domain::retention::purge(&ctx, retention).await {
                Ok(purged) => tracing::info!(?purged, "purged what is past its retention"),
                Err(e) => tracing::warn!(error = %e, "cannot purge old records"),
            }
        }
    });
}

/// Ready when the database answers.
async fn readyz(State(db): State<DatabaseConnection>) -> (StatusCode, &'static str) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
