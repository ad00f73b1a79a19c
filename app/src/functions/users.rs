//! IAM → Users: a tenant admin's end users, their invitations, locks and factors. Each function
//! checks the caller, calls one rule in `domain::users` and maps the result.

#[cfg(feature = "ssr")]
use crate::models::users::{FactorRow, InvitationRow, PersonRow};
use crate::models::{
    users::{InvitationSent, UsersPage, UsersQuery},
    AppError,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use super::super::ssr::{actor, caller, parse_id};
}

#[cfg(feature = "ssr")]
fn person_row(p: domain::users::Person) -> PersonRow {
    PersonRow {
        id: p.id,
        email: p.email,
        name: p.display_name,
        state: p.state,
        created: p.created_at,
        last_sign_in: p.last_sign_in_at,
        factors: p
            .factors
            .into_iter()
            .map(|f| FactorRow { kind: f.kind, id: f.id, name: f.name, added: f.added_at, last_used: f.last_used_at })
            .collect(),
        server_accounts: p.server_accounts,
        invitation: p.invitation.map(|i| InvitationRow {
            channel: i.channel,
            address: i.address,
            sent: i.sent_at,
            expires: i.expires_at,
            status: i.status,
            password_set: i.password_set,
        }),
    }
}

#[cfg(feature = "ssr")]
fn sent(s: domain::users::invitations::Sent) -> InvitationSent {
    InvitationSent { email: s.email, channel: s.channel, address: s.address, expires: s.expires_at }
}

/// The tenant's end users, filtered and a page at a time.
#[server(prefix = "/api", endpoint = "users/list")]
pub async fn list_users(#[server(default)] query: UsersQuery) -> Result<UsersPage, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let state = match query.state.trim() {
        "" => None,
        s => Some(
            domain::users::UserState::parse(s)
                .ok_or_else(|| domain::DomainError::validation("state", "must be invited, active or locked"))?,
        ),
    };
    let q = domain::users::PeopleQuery { search: query.search, state, page: query.page, page_size: query.page_size };
    let page = domain::users::list(&ctx, &caller, &q).await?;
    Ok(UsersPage {
        items: page.items.into_iter().map(person_row).collect(),
        total: page.total,
        page: query.page,
        page_size: query.page_size,
    })
}

/// Invites a person by email (`send_by` email) or by SMS to `phone` (`send_by` sms).
#[server(prefix = "/api", endpoint = "users/invite")]
pub async fn invite_user(
    email: String,
    #[server(default)] display_name: String,
    #[server(default)] send_by: String,
    #[server(default)] phone: String,
) -> Result<InvitationSent, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    caller.admin_tenant()?;
    let actor = ssr::actor(&caller).await;
    let new = domain::users::invitations::NewPerson::parse(&email, &display_name, &send_by, &phone)?;
    Ok(sent(domain::users::invitations::invite(&ctx, &caller, &actor, &new).await?))
}

/// Invites one of the tenant's people again (a lost phone): a new link, by email or SMS.
#[server(prefix = "/api", endpoint = "users/invite_again")]
pub async fn invite_again(
    id: String,
    #[server(default)] send_by: String,
    #[server(default)] phone: String,
) -> Result<InvitationSent, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    caller.admin_tenant()?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "end user")?;
    let via = domain::users::invitations::Via::parse(&send_by, &phone)?;
    let done = sent(domain::users::invitations::invite_again(&ctx, &caller, &actor, id, &via).await?);
    // A lost phone: whoever holds it may hold a portal session too.
    domain::users::end_sessions_of(&ctx, &caller, id).await?;
    Ok(done)
}

/// Sends a person's invitation again with a new link; the old link stops working.
#[server(prefix = "/api", endpoint = "users/resend")]
pub async fn resend_invitation(id: String) -> Result<InvitationSent, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "end user")?;
    Ok(sent(domain::users::invitations::resend(&ctx, &caller, &actor, id).await?))
}

#[server(prefix = "/api", endpoint = "users/revoke")]
pub async fn revoke_invitation(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "end user")?;
    Ok(domain::users::invitations::revoke(&ctx, &caller, &actor, id).await?)
}

#[server(prefix = "/api", endpoint = "users/lock")]
pub async fn lock_user(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "end user")?;
    Ok(domain::users::lock(&ctx, &caller, &actor, id, "by an administrator").await?)
}

#[server(prefix = "/api", endpoint = "users/unlock")]
pub async fn unlock_user(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "end user")?;
    Ok(domain::users::unlock(&ctx, &caller, &actor, id).await?)
}

/// Removes a person's factor (a lost phone): any kind, named as the Users page names it.
#[server(prefix = "/api", endpoint = "users/remove_factor")]
pub async fn remove_factor(id: String, factor: String) -> Result<(), AppError> {
    use domain::users::FactorRef;
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "end user")?;
    // `recovery_codes`, an authenticator's id, or `phone:`, `approval_device:` or `passkey:`
    // and the id.
    let factor = match factor.trim().split_once(':') {
        None if factor.trim() == "recovery_codes" => FactorRef::RecoveryCodes,
        None => FactorRef::Authenticator(ssr::parse_id(factor.trim(), "authenticator")?),
        Some(("phone", id)) => FactorRef::Phone(ssr::parse_id(id, "phone")?),
        Some(("approval_device", id)) => FactorRef::ApprovalDevice(ssr::parse_id(id, "approval device")?),
        Some(("passkey", id)) => FactorRef::Passkey(ssr::parse_id(id, "passkey")?),
        Some(_) => {
            return Err(domain::DomainError::validation(
                "factor",
                "must be recovery_codes, an authenticator's id, or phone:, approval_device: or passkey: and an id",
            )
            .into())
        }
    };
    Ok(domain::users::remove_factor(&ctx, &caller, &actor, id, factor).await?)
}
