use sea_orm::entity::prelude::*;

/// Failed sign-ins per sign-in name, whether or not an account has that name.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub login: String,
    pub failures: i32,
    pub last_failure_at: Option<ChronoDateTimeUtc>,
    pub locked_until: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
