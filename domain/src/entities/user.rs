use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// None for operators, who belong to the provider rather than to a tenant.
    pub tenant_id: Option<Uuid>,
    /// The sign-in name, stored lower-case.
    pub email: String,
    pub display_name: String,
    pub role: proto::Role,
    pub password_hash: String,
    pub created_at: ChronoDateTimeUtc,
    /// When the account became usable: at creation for people made with a password, when they
    /// enrolled a first factor for invited ones. `None`: invited, not yet active.
    pub activated_at: Option<ChronoDateTimeUtc>,
    /// Set while a tenant admin has locked the account.
    pub locked_at: Option<ChronoDateTimeUtc>,
    pub last_sign_in_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
