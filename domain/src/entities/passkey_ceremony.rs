use sea_orm::entity::prelude::*;

/// A WebAuthn ceremony between its two calls: the challenge's server-side state. Taken (deleted)
/// by the call that finishes it, so it is used once, and worthless after `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey_ceremonies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub purpose: Purpose,
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// The portal session a registration or step-up belongs to.
    pub session_ref: Option<Uuid>,
    /// A registration's name for the new passkey.
    pub name: Option<String>,
    /// An approval's request, number and decision: what the assertion decides.
    pub request_id: Option<Uuid>,
    pub number: Option<i32>,
    pub decision: Option<proto::push::PushDecision>,
    /// webauthn-rs's registration or authentication state, JSON (holds the challenge).
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What a ceremony is for; an assertion made for one purpose is refused for any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Purpose {
    #[sea_orm(string_value = "register")]
    Register,
    #[sea_orm(string_value = "sign_in")]
    SignIn,
    #[sea_orm(string_value = "step_up")]
    StepUp,
    #[sea_orm(string_value = "approve")]
    Approve,
}
