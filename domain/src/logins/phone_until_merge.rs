//! LEAD: a stand-in for `crate::factors::phones::login_phone` of `i17-phone`, with its exact
//! signature, until that branch is merged; the merge deletes this file and `methods.rs` imports
//! the real one. Until then nobody has a phone, so Call me and SMS passcode are never offered.

use crate::error::DomainResult;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub async fn login_phone(_conn: &impl ConnectionTrait, _user_id: Uuid) -> DomainResult<Option<crate::validate::Phone>> {
    Ok(None)
}
