//! The error every server function returns. On the server it is made from a `DomainError`,
//! which also sets the HTTP status (401, 403, 404, 422, 429 or 500).

use serde::{Deserialize, Serialize};
use server_fn::{codec::JsonEncoding, error::FromServerFnError, ServerFnError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The name a person knows a field key by, for messages: `topic` → "Topic",
/// `endpoints[1].endpoint` → "Endpoint 2", `endpoints[0].remark` → "Endpoint 1 remark",
/// `exempt_networks[2]` → "Exempt network 3". The one place field keys become words.
pub fn field_label(field: &str) -> String {
    fn word(key: &str) -> String {
        match key {
            "server_ids" => return "Servers".into(),
            "ip" => return "IP address".into(),
            "os_type" => return "Operating system".into(),
            "end_user_id" => return "End user".into(),
            "tenant_id" => return "Tenant".into(),
            "totp" => return "Authenticator app".into(),
            _ => {}
        }
        let text = key.replace('_', " ");
        let mut chars = text.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
    }
    // `list[i]` and `list[i].part`: the list's item, counted from 1.
    let Some((list, rest)) = field.split_once('[') else { return word(field) };
    let Some((index, part)) = rest.split_once(']') else { return word(field) };
    let Ok(index) = index.parse::<usize>() else { return word(field) };
    let item = list.strip_suffix('s').unwrap_or(list);
    let label = format!("{} {}", word(item), index + 1);
    match part.strip_prefix('.') {
        Some(part) if part != item.rsplit('_').next().unwrap_or(item) => {
            format!("{label} {}", word(part).to_lowercase())
        }
        _ => label,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthenticated,
    #[error("You do not have permission to see this page.")]
    Forbidden,
    #[error("This {0} does not exist, or is not yours to see.")]
    NotFound(String),
    #[error("{}: {message}", field_label(field))]
    Validation { field: String, message: String },
    /// Several bad fields at once; nothing was saved.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", field_label(&e.field), e.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("The email or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many failed sign-ins. Try again in {0}.")]
    Locked(String),
    /// The server is at capacity; nothing was done.
    #[error("{0}")]
    Busy(String),
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    #[error("The request could not be completed: {0}")]
    Request(String),
}

impl AppError {
    /// A short stable name, for URLs.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Validation { .. } | AppError::Invalid(_) => "invalid_input",
            AppError::Conflict(_) => "conflict",
            AppError::RateLimited(_) => "rate_limited",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Locked(_) => "locked",
            AppError::Busy(_) => "busy",
            AppError::Internal => "internal",
            AppError::Request(_) => "bad_request",
        }
    }

    /// The message for a code from `code()`, as far as the code alone can tell it.
    pub fn message_for_code(code: &str) -> Option<&'static str> {
        Some(match code {
            "invalid_credentials" => "The email or password is incorrect.",
            "locked" => "Too many failed sign-ins. Try again later.",
            "invalid_input" => "Enter your email and password.",
            "internal" => "Something went wrong on our side. Please try again.",
            "busy" => "The console is busy. Please try again in a few seconds.",
            "rate_limited" => "Too many failed sign-ins from your address. Try again later.",
            _ => return None,
        })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        // On the server this is a request the function could not even read (a missing or
        // malformed argument): the client's fault.
        #[cfg(feature = "ssr")]
        ssr::set_status(http::StatusCode::BAD_REQUEST);
        AppError::Request(value.to_string())
    }
}

impl From<ServerFnError> for AppError {
    fn from(value: ServerFnError) -> Self {
        AppError::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;
    use domain::DomainError;
    use http::StatusCode;

    impl AppError {
        pub fn status(&self) -> StatusCode {
            match self {
                AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
                AppError::Forbidden => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Validation { .. } | AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                AppError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
                AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                AppError::Request(_) => StatusCode::BAD_REQUEST,
            }
        }
    }

    /// Converting also sets the response status, unless a redirect is already under way.
    impl From<DomainError> for AppError {
        fn from(e: DomainError) -> Self {
            let app = match e {
                DomainError::Unauthenticated => AppError::Unauthenticated,
                DomainError::Forbidden => AppError::Forbidden,
                DomainError::NotFound(what) => AppError::NotFound(what.to_owned()),
                // One bad field keeps its own shape, which forms show next to the field.
                DomainError::Invalid(mut errors) if errors.len() == 1 => {
                    let e = errors.remove(0);
                    AppError::Validation { field: e.field, message: e.message }
                }
                DomainError::Invalid(errors) => AppError::Invalid(
                    errors.into_iter().map(|e| super::FieldError { field: e.field, message: e.message }).collect(),
                ),
                DomainError::Conflict(m) => AppError::Conflict(m),
                DomainError::RateLimited(m) => AppError::RateLimited(m),
                DomainError::InvalidCredentials => AppError::InvalidCredentials,
                DomainError::Locked { retry_after_secs } => {
                    let minutes = (retry_after_secs + 59) / 60;
                    AppError::Locked(if minutes <= 1 { "a minute".into() } else { format!("{minutes} minutes") })
                }
                DomainError::Busy(m) => AppError::Busy(m),
                DomainError::Db(err) => {
                    tracing::error!(error = %err, "database error");
                    AppError::Internal
                }
                DomainError::Internal(err) => {
                    tracing::error!(error = %err, "internal error");
                    AppError::Internal
                }
            };
            set_status(app.status());
            app
        }
    }

    pub fn set_status(status: StatusCode) {
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let redirecting = res.0.read().map(|p| p.status.is_some_and(|s| s.is_redirection())).unwrap_or(false);
            if !redirecting {
                res.set_status(status);
            }
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::set_status;

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::AppError;
    use domain::DomainError;

    #[test]
    fn domain_errors_become_clear_messages_and_statuses() {
        let locked = AppError::from(DomainError::Locked { retry_after_secs: 601 });
        assert_eq!(locked.to_string(), "Too many failed sign-ins. Try again in 11 minutes.");
        assert_eq!(locked.status(), 429);
        let field = AppError::from(DomainError::validation("page_size", "must be 10, 20, 50 or 100"));
        assert_eq!(field.to_string(), "Page size: must be 10, 20, 50 or 100");
        assert_eq!(field.status(), 422);
        let db = AppError::from(DomainError::Db(domain::error::DbErr::Custom(
            "connection refused to 10.0.0.5 with password hunter2".into(),
        )));
        assert_eq!(db, AppError::Internal, "database details are logged, never shown");
        assert_eq!(AppError::from(DomainError::NotFound("server")).status(), 404);
        assert_eq!(AppError::from(DomainError::Forbidden).status(), 403);
    }

    #[test]
    fn field_keys_read_as_the_names_people_know() {
        use super::field_label;
        assert_eq!(field_label("topic"), "Topic");
        assert_eq!(field_label("display_name"), "Display name");
        assert_eq!(field_label("server_ids"), "Servers");
        assert_eq!(field_label("endpoints[1].endpoint"), "Endpoint 2");
        assert_eq!(field_label("endpoints[0].remark"), "Endpoint 1 remark");
        assert_eq!(field_label("exempt_networks[2]"), "Exempt network 3");
        assert_eq!(field_label("logins[0].account"), "Login 1 account");
        assert_eq!(field_label("weird[x"), "Weird[x");
        let two = AppError::Invalid(vec![
            super::FieldError { field: "endpoints[1].endpoint".into(), message: "\"138\" must start with +".into() },
            super::FieldError { field: "topic".into(), message: "choose a topic".into() },
        ]);
        assert_eq!(two.to_string(), "Endpoint 2: \"138\" must start with +\nTopic: choose a topic");
    }
}
