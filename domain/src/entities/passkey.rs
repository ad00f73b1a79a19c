use sea_orm::entity::prelude::*;

/// An end user's passkey (a WebAuthn credential): it signs them in to the portal, steps up
/// before a factor change, and approves push requests from any browser.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The authenticator's credential id (unique over every tenant).
    pub credential_id: Vec<u8>,
    /// webauthn-rs's `Passkey`, JSON: the public key and the last signature counter.
    #[sea_orm(column_type = "Text")]
    pub credential: String,
    pub created_at: ChronoDateTimeUtc,
    pub last_used_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
