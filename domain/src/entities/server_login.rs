use sea_orm::entity::prelude::*;

/// A login to a server that reached HostGuard's PAM module: the login audit, and while the
/// login runs, where its dialogue stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "server_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub server_id: Uuid,
    /// The server's name when the login happened (the audit outlives renames and deletes).
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    /// What the per-address limits count by: the address, or its /64 for IPv6 (one host
    /// commonly holds a whole /64).
    pub source_block: String,
    /// The PAM service, e.g. `sshd`.
    pub service: String,
    /// `sms`, `code`, or `none` when no factor was asked (2FA off, exempt, offline).
    pub method: String,
    /// The number shown at the code prompt and in the message (`Input #25 Code:`).
    pub number: i32,
    /// Where the dialogue stands (`Stage`).
    pub stage: String,
    /// SHA-256 of the login id and the code sent; cleared once used.
    pub code_hash: Option<String>,
    pub code_sent_at: Option<ChronoDateTimeUtc>,
    pub code_expires_at: Option<ChronoDateTimeUtc>,
    /// Wrong codes typed so far.
    pub attempts: i32,
    /// `allowed` or `denied` (`proto::login::LoginResult`); `None` while the login runs.
    pub result: Option<String>,
    /// Why it ended so, for people.
    pub reason: String,
    /// Decided by the agent alone while the console was unreachable, and reported later.
    pub offline: bool,
    pub end_user_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    pub finished_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

stored_enum!(
    /// `server_logins.stage`.
    Stage {
        /// Waiting for a phone number or email address of the topic (SMS/Email).
        Recipient => "recipient",
        /// Waiting for the code.
        Code => "code",
        /// Verification-code mode: waiting for a code from the end user's authenticator app,
        /// or a recovery code.
        Verify => "verify",
        /// Over; `result` says how.
        Done => "done",
    }
);

stored_enum!(
    /// `server_logins.method`.
    LoginMethod {
        Sms => "sms",
        Code => "code",
        /// No second factor was asked.
        None => "none",
    }
);
