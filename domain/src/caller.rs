//! Who is calling: the signed-in user, their role and their tenant. Every rule takes a
//! `Caller` and checks it before touching data.

use crate::error::{DomainError, DomainResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The provider's internal team.
    Operator,
    /// A cloud customer's administrator.
    TenantAdmin,
    /// A person who logs in to servers.
    EndUser,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::TenantAdmin => "tenant_admin",
            Role::EndUser => "end_user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "operator" => Some(Role::Operator),
            "tenant_admin" => Some(Role::TenantAdmin),
            "end_user" => Some(Role::EndUser),
            _ => None,
        }
    }
}

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
