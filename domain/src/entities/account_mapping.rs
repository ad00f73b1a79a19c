use sea_orm::entity::prelude::*;

/// A server account (a Linux user name) mapped to the end user who logs in with it: on every
/// server of the tenant (`server_id` None), or on one server, where it overrides the former.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_mappings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub server_id: Option<Uuid>,
    pub account: String,
    pub end_user_id: Uuid,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
