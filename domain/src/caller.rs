//! Who is calling: the signed-in user, their role and their tenant. Every rule takes a
//! `Caller` and checks it before touching data.

use crate::error::{DomainError, DomainResult};
use uuid::Uuid;

pub use proto::Role;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub tenant_id: Option<Uuid>,
    /// The sign-in name, as the audit trail records the caller.
    pub email: String,
}

impl Caller {
    pub fn require_role(&self, role: Role) -> DomainResult<()> {
        if self.role == role {
            Ok(())
        } else {
            Err(DomainError::Forbidden)
        }
    }

    /// The tenant a tenant admin administers. Anyone else is refused.
    pub fn admin_tenant(&self) -> DomainResult<Uuid> {
        self.require_role(Role::TenantAdmin)?;
        self.tenant_id.ok_or(DomainError::Forbidden)
    }
}
