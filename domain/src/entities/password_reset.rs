use sea_orm::entity::prelude::*;

/// A request for a password-reset link. Every request has a row (it counts toward the rate
/// limits); only one for an active account has a user and a token (its SHA-256).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_resets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    /// The address as asked for, normalised.
    pub email: String,
    pub source_ip: String,
    pub token_hash: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
    /// When the link was used, or made void by a newer one or by a password change.
    pub used_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
