//! Email over SMTP with lettre: multipart text and HTML, the topic's display name as the
//! sender name.

use super::MailTransport;
use crate::config::{SmtpConfig, SmtpSecurity};
use domain::entities::outbox::Model as Message;
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::authentication::Credentials,
    Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
};
use secrecy::ExposeSecret;
use std::time::Duration;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl SmtpMailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let builder = match config.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("SMTP host {}: {e}", config.host))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("SMTP host {}: {e}", config.host))?,
        };
        let mut builder = builder.port(config.port).timeout(Some(Duration::from_secs(15)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
        }
        let from: Address = config.from.parse().map_err(|e| format!("HOSTGUARD_SMTP_FROM: {e}"))?;
        Ok(Self { transport: builder.build(), from })
    }
}

#[async_trait::async_trait]
impl MailTransport for SmtpMailer {
    async fn send(&self, m: &Message) -> Result<(), String> {
        let to: Address = m.recipient.parse().map_err(|e| format!("recipient {}: {e}", m.recipient))?;
        let sender_name = (!m.sender_name.is_empty()).then(|| m.sender_name.clone());
        let email = lettre::Message::builder()
            .from(Mailbox::new(sender_name, self.from.clone()))
            .to(Mailbox::new(None, to))
            .subject(&m.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.body_text.clone()))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(m.body_html.clone())),
            )
            .map_err(|e| format!("cannot build the email: {e}"))?;
        self.transport.send(email).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }
}
