//! SMS and voice calls. The real gateway is an HTTP API (a Twilio-style form post); in
//! development, messages stay in the outbox where operators and tests read them.

use domain::outbox::Delivered;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

#[async_trait::async_trait]
pub trait SmsGateway: Send + Sync {
    async fn send_sms(&self, to: &str, body: &str) -> Result<Delivered, String>;
    /// Calls `to` and reads `speech` out.
    async fn call(&self, to: &str, speech: &str) -> Result<Delivered, String>;
}

/// Posts `To`, `Body` (SMS) or `To`, `Say` (voice) as a form to the gateway, with HTTP basic
/// authentication by account and token. A 2xx answer means accepted.
pub struct HttpSmsGateway {
    client: reqwest::Client,
    url: String,
    account: Option<String>,
    token: Option<SecretString>,
}

impl HttpSmsGateway {
    pub fn new(url: &str, account: Option<String>, token: Option<SecretString>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| format!("cannot set up the SMS gateway's HTTP client: {e}"))?;
        Ok(Self { client, url: url.trim_end_matches('/').to_owned(), account, token })
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<(), String> {
        let mut req = self.client.post(format!("{}/{path}", self.url)).form(form);
        if let Some(account) = &self.account {
            req = req.basic_auth(account, self.token.as_ref().map(|t| t.expose_secret()));
        }
        let res = req.send().await.map_err(|e| format!("SMS gateway unreachable: {e}"))?;
        if res.status().is_success() {
            Ok(())
        } else {
            let status = res.status();
            let body: String = res.text().await.unwrap_or_default().chars().take(300).collect();
            Err(format!("SMS gateway answered {status}: {body}"))
        }
    }
}

#[async_trait::async_trait]
impl SmsGateway for HttpSmsGateway {
    async fn send_sms(&self, to: &str, body: &str) -> Result<Delivered, String> {
        self.post("messages", &[("To", to), ("Body", body)]).await.map(|()| Delivered::Sent)
    }

    async fn call(&self, to: &str, speech: &str) -> Result<Delivered, String> {
        self.post("calls", &[("To", to), ("Say", speech)]).await.map(|()| Delivered::Sent)
    }
}

/// Development: nothing leaves the machine; the message stays readable in the outbox.
pub struct DevSmsGateway;

#[async_trait::async_trait]
impl SmsGateway for DevSmsGateway {
    async fn send_sms(&self, to: &str, _body: &str) -> Result<Delivered, String> {
        tracing::info!(to, "SMS kept in the development outbox");
        Ok(Delivered::Held)
    }

    async fn call(&self, to: &str, _speech: &str) -> Result<Delivered, String> {
        tracing::info!(to, "voice call kept in the development outbox");
        Ok(Delivered::Held)
    }
}
