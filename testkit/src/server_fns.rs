//! Typed calls of the console's server functions. The arguments are the function's own struct
//! (`app::functions::two_factor::ListTwoFactor { query }`), form-encoded as the browser's client
//! encodes them; the answer is read as the function's return type, or as the `AppError` it
//! refused with and the HTTP status. A renamed argument or field fails to compile here.

use crate::TestApp;
use app::functions::agents::{CreateInstallCommand, CreateReinstallCommand};
use app::functions::two_factor::{ListTwoFactor, SaveTwoFactor};
use app::models::two_factor::{ChangeAction, LoginMethod, TwoFactorChange, TwoFactorQuery};
use app::models::{AppError, ChangeResult, TwoFactorPage, TwoFactorRow};
use leptos::server_fn::ServerFn;
use reqwest::header;
use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

/// A server function's refusal: the HTTP status and the error the console sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub status: u16,
    pub error: AppError,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}: {}", self.status, self.error, self.error)
    }
}

/// Who calls: a session's `name=value` cookie, or [`NO_SESSION`].
pub trait Session {
    fn cookie(&self) -> Option<&str>;
}

impl Session for str {
    fn cookie(&self) -> Option<&str> {
        Some(self)
    }
}

impl Session for String {
    fn cookie(&self) -> Option<&str> {
        Some(self)
    }
}

impl Session for Option<&str> {
    fn cookie(&self) -> Option<&str> {
        *self
    }
}

impl<T: Session + ?Sized> Session for &T {
    fn cookie(&self) -> Option<&str> {
        (**self).cookie()
    }
}

/// A call without a session.
pub const NO_SESSION: Option<&str> = None;

impl TestApp {
    /// Calls the server function `args` names, as the signed-in `who` (or [`NO_SESSION`]).
    pub async fn try_run<F>(&self, who: impl Session, args: F) -> Result<F::Output, Refused>
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned,
    {
        self.try_run_via(&self.http, who, args).await
    }

    /// [`Self::try_run`] through client `http` (e.g. one from another source address).
    pub async fn try_run_via<F>(&self, http: &reqwest::Client, who: impl Session, args: F) -> Result<F::Output, Refused>
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned,
    {
        let form = serde_qs::to_string(&args).expect("server function arguments encode as a form");
        let mut req = http
            .post(self.url(F::PATH))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(form);
        if let Some(c) = who.cookie() {
            req = req.header(header::COOKIE, c);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let body = res.text().await.expect("response body");
        if status == 200 {
            return Ok(serde_json::from_str(&body).unwrap_or_else(|e| {
                panic!("{} answers a {} ({e}): {body}", F::PATH, std::any::type_name::<F::Output>())
            }));
        }
        let error = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{}: {status} is not an AppError ({e}): {body}", F::PATH));
        Err(Refused { status, error })
    }

    /// [`Self::try_run`] that must succeed.
    pub async fn run<F>(&self, who: impl Session, args: F) -> F::Output
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned,
    {
        let path = F::PATH;
        self.try_run(who, args).await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// [`Self::try_run`] that must be refused.
    pub async fn refused<F>(&self, who: impl Session, args: F) -> Refused
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned + std::fmt::Debug,
    {
        let path = F::PATH;
        match self.try_run(who, args).await {
            Ok(out) => panic!("{path} was expected to refuse, and answered {out:?}"),
            Err(e) => e,
        }
    }

    /// The 2FA tab's list with `query`.
    pub async fn two_factor_list(&self, who: impl Session, query: TwoFactorQuery) -> TwoFactorPage {
        self.run(who, ListTwoFactor { query }).await
    }

    /// The 2FA tab's rows whose name contains `search` (page 1 of 100).
    pub async fn two_factor_rows(&self, who: impl Session, search: &str) -> Vec<TwoFactorRow> {
        self.two_factor_list(who, TwoFactorQuery { search: search.into(), page_size: 100, ..Default::default() })
            .await
            .items
    }

    /// The 2FA tab's row of the server named `name`.
    pub async fn two_factor_row(&self, who: impl Session, name: &str) -> TwoFactorRow {
        self.two_factor_rows(&who, name)
            .await
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
    }

    /// `two-factor/save` of `change`.
    pub async fn try_save_two_factor(&self, who: impl Session, change: TwoFactorChange) -> Result<ChangeResult, Refused> {
        self.try_run(who, SaveTwoFactor { change }).await
    }

    /// A new install token, taken from the install command the 2FA tab shows.
    pub async fn install_token(&self, who: impl Session) -> String {
        token_of(&self.run(who, CreateInstallCommand {}).await.command)
    }

    /// A re-install token for `server_id`, from the command its page shows.
    pub async fn reinstall_token(&self, who: impl Session, server_id: Uuid) -> String {
        token_of(&self.run(who, CreateReinstallCommand { server_id: server_id.to_string() }).await.command)
    }
}

/// The token in a command as the console shows it: `printf '%s\n' 'hgi_…' | sudo hostguard-agent …`.
pub fn token_of(command: &str) -> String {
    command.split_whitespace().find(|w| w.starts_with("'hgi_")).expect("a token").trim_matches('\'').to_owned()
}

/// A 2FA change to the servers `ids`.
pub fn change(ids: &[Uuid], action: ChangeAction, method: Option<LoginMethod>, topic_id: Option<Uuid>) -> TwoFactorChange {
    TwoFactorChange { server_ids: ids.to_vec(), action, method, topic_id }
}

/// Enable 2FA with verification codes on `ids`.
pub fn enable_code(ids: &[Uuid]) -> TwoFactorChange {
    change(ids, ChangeAction::Enable, Some(LoginMethod::Code), None)
}

/// Enable 2FA with SMS/Email codes to `topic` on `ids`.
pub fn enable_sms(ids: &[Uuid], topic: Uuid) -> TwoFactorChange {
    change(ids, ChangeAction::Enable, Some(LoginMethod::Sms), Some(topic))
}

/// Disable 2FA on `ids`.
pub fn disable(ids: &[Uuid]) -> TwoFactorChange {
    change(ids, ChangeAction::Disable, None, None)
}
