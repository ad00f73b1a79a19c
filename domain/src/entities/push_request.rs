use sea_orm::entity::prelude::*;

/// A login waiting for its end user to approve it in the portal (push, with number matching).
/// The login side (`logins`) creates it and waits for its status; the approval side (`push`)
/// decides it. Decided means `status` is no longer `pending`; a pending request past
/// `expires_at` is expired, whatever its status column still says.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The end user asked to approve.
    pub user_id: Uuid,
    /// The login (`server_logins`) waiting on it.
    pub login_id: Uuid,
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    /// The number the login prompt shows (100–999), typed by the person to approve.
    pub number: i32,
    pub status: PushStatus,
    /// Wrong numbers typed for it in the portal.
    pub wrong_numbers: i32,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
    pub decided_at: Option<ChronoDateTimeUtc>,
    /// The approval device whose signature, or the passkey whose assertion, decided it.
    pub device_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub use proto::push::PushStatus;
