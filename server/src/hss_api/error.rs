//! The one error type of the HSS-compatible API. It answers in Huawei Cloud's error shape,
//! `{"error_code": "...", "error_msg": "..."}`, which the official SDKs read into their
//! exceptions; each refusal has its own code so scripts can tell them apart.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use domain::{access_keys::KeyError, DomainError};

#[derive(Debug)]
pub enum ApiError {
    /// No `Authorization` header, or one in neither supported form.
    MissingAuth(String),
    /// The signature does not match the request (wrong secret, or a changed request).
    BadSignature(String),
    UnknownKey(String),
    RevokedKey(String),
    /// `X-Sdk-Date` missing, malformed or more than 15 minutes off the server's clock.
    DateSkew(String),
    /// The path (or `X-Project-Id`) names a project that is not the key's.
    ProjectMismatch(String),
    /// A malformed request: a field of the wrong type or out of range. Names the field.
    BadRequest {
        field: String,
        message: String,
    },
    /// Well-formed, but the rules refuse it. Names the field(s).
    Invalid(String),
    NotFound(String),
    Forbidden,
    Conflict(String),
    RateLimited(String),
    Busy(String),
    /// The body is over this many bytes.
    TooLarge(usize),
    Internal,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { field: field.into(), message: message.into() }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            MissingAuth(m) => (StatusCode::UNAUTHORIZED, "HG.AUTH.MISSING", m.clone()),
            BadSignature(m) => (StatusCode::UNAUTHORIZED, "HG.AUTH.BAD_SIGNATURE", m.clone()),
            UnknownKey(m) => (StatusCode::UNAUTHORIZED, "HG.AUTH.UNKNOWN_KEY", m.clone()),
            RevokedKey(m) => (StatusCode::UNAUTHORIZED, "HG.AUTH.REVOKED_KEY", m.clone()),
            DateSkew(m) => (StatusCode::UNAUTHORIZED, "HG.AUTH.DATE_SKEW", m.clone()),
            ProjectMismatch(m) => (StatusCode::FORBIDDEN, "HG.AUTH.PROJECT_MISMATCH", m.clone()),
            BadRequest { field, message } => {
                (StatusCode::BAD_REQUEST, "HG.REQUEST.INVALID", format!("{field}: {message}"))
            }
            Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "HG.REQUEST.VALIDATION", m.clone()),
            NotFound(m) => (StatusCode::NOT_FOUND, "HG.RESOURCE.NOT_FOUND", m.clone()),
            Forbidden => (StatusCode::FORBIDDEN, "HG.AUTH.FORBIDDEN", "this access key may not do this".into()),
            Conflict(m) => (StatusCode::CONFLICT, "HG.RESOURCE.CONFLICT", m.clone()),
            RateLimited(m) => (StatusCode::TOO_MANY_REQUESTS, "HG.RATE_LIMITED", m.clone()),
            Busy(m) => (StatusCode::SERVICE_UNAVAILABLE, "HG.BUSY", m.clone()),
            TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "HG.REQUEST.TOO_LARGE",
                format!("the request body must be at most {limit} bytes"),
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "HG.INTERNAL",
                "something went wrong on the server; try again".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        (status, Json(super::contract::ErrorBody { error_code: code, error_msg: message })).into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Unauthenticated => ApiError::MissingAuth("authentication required".into()),
            DomainError::Forbidden => ApiError::Forbidden,
            DomainError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            DomainError::Invalid(_) => ApiError::Invalid(e.to_string()),
            DomainError::Conflict(m) => ApiError::Conflict(m),
            DomainError::RateLimited(m) => ApiError::RateLimited(m),
            DomainError::Busy(m) => ApiError::Busy(m),
            DomainError::InvalidCredentials | DomainError::Locked { .. } => ApiError::Forbidden,
            DomainError::Db(_) | DomainError::Internal(_) => {
                tracing::error!(error = %e, "HSS API request failed");
                ApiError::Internal
            }
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unknown(_) => ApiError::UnknownKey(e.to_string()),
            KeyError::Revoked(_) => ApiError::RevokedKey(e.to_string()),
            KeyError::Domain(d) => d.into(),
        }
    }
}
