use sea_orm::entity::prelude::*;

/// An access key (AK/SK pair) for the HSS-compatible API.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_by: Uuid,
    /// The public half (AK).
    #[sea_orm(unique)]
    pub access_key: String,
    /// The secret half (SK), encrypted with the server's secret key.
    pub secret_ciphertext: String,
    pub description: String,
    pub status: proto::AccessKeyStatus,
    pub created_at: ChronoDateTimeUtc,
    pub revoked_at: Option<ChronoDateTimeUtc>,
    pub last_used_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
