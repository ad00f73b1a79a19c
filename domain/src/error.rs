//! The one error type of the rules layer. Web layers map it to status codes and messages.

pub use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The caller is not signed in, or the session is over.
    #[error("sign in required")]
    Unauthenticated,
    /// The caller is signed in but their role may not do this.
    #[error("you do not have permission to do this")]
    Forbidden,
    /// Nothing with this id exists for this caller. Also used for other tenants' data, so
    /// that ids from elsewhere reveal nothing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input: each bad field with the rule it breaks (one, or several at once: each
    /// endpoint of a batch, say). Nothing was saved.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The request is well-formed but the current state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// Too many of something in a while (not sign-in).
    #[error("{0}")]
    RateLimited(String),
    /// Wrong sign-in; never says whether the account exists.
    #[error("the email or password is incorrect")]
    InvalidCredentials,
    /// Too many wrong passwords for this sign-in name.
    #[error("too many failed sign-ins; try again in {retry_after_secs} seconds")]
    Locked { retry_after_secs: i64 },
    /// The server is at capacity for this kind of work; try again shortly.
    #[error("{0}")]
    Busy(String),
    #[error("database error: {0}")]
    Db(DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl From<DbErr> for DomainError {
    /// A database that is only busy (no pooled connection came free in time, or SQLite's write
    /// lock stayed taken past its wait) is `Busy`: the console's pages and the HSS API answer 503
    /// and the caller tries again. Whatever else the database says is `Db`.
    fn from(e: DbErr) -> Self {
        let busy = matches!(e, DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))
            || e.to_string().contains("database is locked");
        if busy {
            // Debug only: under overload this would be every request; the callers log the refusal.
            tracing::debug!(error = %e, "the database is busy");
            DomainError::Busy("The database is busy; try again in a moment.".into())
        } else {
            DomainError::Db(e)
        }
    }
}

impl DomainError {
    /// Bad input in one field.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

#[cfg(test)]
mod tests {
    use super::{DbErr, DomainError};

    #[test]
    fn a_busy_database_is_busy_and_other_errors_stay_database_errors() {
        let timeout = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(matches!(DomainError::from(timeout), DomainError::Busy(_)));
        let locked = DbErr::Custom("error returned from database: (code: 5) database is locked".into());
        assert!(matches!(DomainError::from(locked), DomainError::Busy(_)));
        assert!(matches!(DomainError::from(DbErr::Custom("no such table: x".into())), DomainError::Db(_)));
    }
}
