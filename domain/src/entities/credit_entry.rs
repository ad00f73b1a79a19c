use sea_orm::entity::prelude::*;

/// One row of a tenant's credit ledger: what paid calls and SMS passcodes spend. The balance is
/// the sum of the tenant's rows, never a stored number.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Credits added (positive) or spent (negative).
    pub delta: i32,
    pub kind: CreditKind,
    /// The login a charge paid for (`server_logins`); none for grants and top-ups.
    pub login_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// `credit_ledger.kind`: why credits came or went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
pub enum CreditKind {
    /// The Free plan's grant, once per tenant.
    FreePlan,
    /// Credits bought (or, until operators' plans exist, added by a seed or a test).
    TopUp,
    /// A correction, up or down, by the provider.
    Adjustment,
    /// A "call me" login code.
    Call,
    /// An SMS passcode.
    SmsPasscode,
}
proto::wire_strings!(CreditKind {
    FreePlan => "free_plan",
    TopUp => "top_up",
    Adjustment => "adjustment",
    Call => "call",
    SmsPasscode => "sms_passcode"
});
