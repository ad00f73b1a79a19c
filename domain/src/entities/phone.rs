use sea_orm::entity::prelude::*;

/// An end user's phone, for SMS passcodes and "call me". It counts once confirmed with the code
/// sent to it; a user has at most one confirmed phone (the one in force) and one pending.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// E.164 (`validate::Phone`).
    pub number: String,
    pub confirmed_at: Option<ChronoDateTimeUtc>,
    /// The pending confirmation code's hash (bound to `id`); cleared once confirmed.
    pub code_hash: Option<String>,
    pub code_expires_at: Option<ChronoDateTimeUtc>,
    /// Wrong codes typed for the pending code.
    pub code_attempts: i32,
    pub code_sent_at: Option<ChronoDateTimeUtc>,
    pub codes_sent: i32,
    pub last_used_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
