use sea_orm::entity::prelude::*;

/// A tenant admin's or operator's authenticator app (TOTP) for signing in to the console. It
/// counts once confirmed with a code from the app.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "console_authenticators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The TOTP seed, encrypted with the server's secret key (bound to `id`).
    pub secret_ciphertext: String,
    pub confirmed_at: Option<ChronoDateTimeUtc>,
    /// The last time step whose code was accepted; only later steps are accepted.
    pub last_used_step: i64,
    pub last_used_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
