use sea_orm::entity::prelude::*;

/// A one-time code an end user got in the portal ("Get a code") for one server login. Only its
/// argon2id hash is kept.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The approval device whose signature asked for it.
    pub device_id: Uuid,
    pub code_hash: String,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
    pub used_at: Option<ChronoDateTimeUtc>,
    /// The server login it let in.
    pub login_id: Option<Uuid>,
    /// Set when a newer code replaced it unused.
    pub replaced_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
