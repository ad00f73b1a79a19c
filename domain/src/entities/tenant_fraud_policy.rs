use sea_orm::entity::prelude::*;

/// The tenant's choice of what "This wasn't me" does beyond denying and telling the admins:
/// a view of the `tenants` table with only that setting, so the rules of push read and write it
/// without the rest of the tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Lock the person who reports a request as not theirs (off by default).
    pub lock_on_fraud_report: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
