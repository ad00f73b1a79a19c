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
    pub method: LoginMethod,
    /// The number shown at the code prompt and in the message (`Input #25 Code:`).
    pub number: i32,
    /// Where the dialogue stands.
    pub stage: Stage,
    /// SHA-256 of the login id and the code sent; cleared once used.
    pub code_hash: Option<String>,
    pub code_sent_at: Option<ChronoDateTimeUtc>,
    pub code_expires_at: Option<ChronoDateTimeUtc>,
    /// Wrong codes typed so far.
    pub attempts: i32,
    /// `None` while the login runs.
    pub result: Option<proto::login::LoginResult>,
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

/// The login enums live in `proto`: the login audit shows them.
pub use proto::login::{LoginMethod, LoginStage as Stage};
