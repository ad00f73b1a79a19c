//! The one place that sends messages: a worker that leases due messages from the outbox and
//! hands each to its transport (SMTP for email, an SMS gateway for SMS and voice), recording
//! the outcome. Several replicas can run it on one database; leases keep them apart, and each
//! message's lease is renewed right before it is sent, so one whose lease ran out during a slow
//! batch (and may now be another worker's) is never sent a second time.

mod email;
mod sms;
pub mod webpush;

pub use email::SmtpMailer;
pub use sms::{DevSmsGateway, HttpSmsGateway, SmsGateway};

use crate::config::Config;
use domain::{entities::outbox::Model as Message, outbox, outbox::Delivered, Ctx};
use std::{sync::Arc, time::Duration};

/// Sends one email.
#[async_trait::async_trait]
pub trait MailTransport: Send + Sync {
    async fn send(&self, message: &Message) -> Result<(), String>;
}

#[derive(Clone)]
pub struct Transports {
    pub mail: Arc<dyn MailTransport>,
    pub sms: Arc<dyn SmsGateway>,
}

impl Transports {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let mail: Arc<dyn MailTransport> = Arc::new(SmtpMailer::new(&config.smtp)?);
        let sms: Arc<dyn SmsGateway> = match &config.sms.gateway_url {
            Some(url) => Arc::new(HttpSmsGateway::new(url, config.sms.account.clone(), config.sms.token.clone())?),
            None => Arc::new(DevSmsGateway),
        };
        Ok(Self { mail, sms })
    }

    async fn send(&self, m: &Message) -> Result<Delivered, String> {
        match m.channel {
            proto::Channel::Email => self.mail.send(m).await.map(|()| Delivered::Sent),
            proto::Channel::Sms => self.sms.send_sms(&m.recipient, &m.body_text).await,
            proto::Channel::Voice => self.sms.call(&m.recipient, &m.body_text).await,
        }
    }
}

/// How long a worker may hold a message before another may take it over. Renewed before each
/// send, so it only has to cover one send (the transports time out after 15 s).
pub const LEASE: chrono::Duration = chrono::Duration::seconds(120);
const BATCH: u64 = 20;

/// Runs the delivery worker until the process ends.
pub fn spawn_worker(ctx: Ctx, transports: Transports, poll: Duration) -> tokio::task::JoinHandle<()> {
    let owner = format!("worker-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        loop {
            match outbox::claim(&ctx, &owner, BATCH, LEASE).await {
                Ok(batch) if !batch.is_empty() => {
                    for m in batch {
                        deliver(&ctx, &transports, &owner, &m).await;
                    }
                }
                Ok(_) => {
                    tokio::select! {
                        _ = ctx.outbox_signal.notified() => {}
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot lease outbox messages");
                    tokio::time::sleep(poll).await;
                }
            }
        }
    })
}

/// Sends one leased message and records the outcome; does nothing if `owner`'s lease on it
/// has run out.
pub async fn deliver(ctx: &Ctx, transports: &Transports, owner: &str, m: &Message) {
    use tracing::Instrument;
    // Instrumented, not entered: a span held across an await would label other tasks' logs.
    let span = tracing::info_span!("deliver", id = %m.id, channel = %m.channel, kind = %m.kind);
    deliver_one(ctx, transports, owner, m).instrument(span).await
}

async fn deliver_one(ctx: &Ctx, transports: &Transports, owner: &str, m: &Message) {
    match outbox::renew_lease(ctx, m.id, owner, LEASE).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("lease ran out before sending; left to whoever holds it now");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot renew the lease; not sending");
            return;
        }
    }
    let leased = tokio::time::Instant::now();
    let result = transports.send(&outbox::render(m)).await;
    if let Err(e) = &result {
        tracing::warn!(attempt = m.attempts + 1, error = %outbox::masked_error(m, e), "delivery failed; will retry");
    }
    // A sent message whose outcome is not written is sent again when its lease runs out: so
    // the write is tried again (the database busy or its pool drained, as under overload) for
    // half the lease, which the lease renewed just before the send still covers.
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        let recorded = match &result {
            Ok(how) => outbox::mark_delivered(ctx, m.id, owner, *how).await.map(|held| {
                if !held {
                    tracing::warn!("sent, but the lease had passed to another worker");
                }
            }),
            Err(e) => outbox::mark_failed(ctx, m, owner, e).await,
        };
        let Err(e) = recorded else { return };
        if leased.elapsed() + pause >= RECORD_FOR {
            tracing::error!(error = %e, "cannot record the delivery outcome");
            return;
        }
        tracing::warn!(error = %e, "cannot record the delivery outcome yet; trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

/// How long after renewing its lease a worker keeps trying to record an outcome: half the lease.
const RECORD_FOR: std::time::Duration = std::time::Duration::from_secs(LEASE.num_seconds().unsigned_abs() / 2);
