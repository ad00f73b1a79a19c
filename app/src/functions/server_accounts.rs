//! IAM → Server accounts: which end user logs in as which server account, for
//! verification-code mode.

#[cfg(feature = "ssr")]
use crate::models::Choice;
use crate::models::{AccountMappingRow, AppError, ServerAccounts};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use super::super::ssr::{actor, caller, parse_id};
}

#[cfg(feature = "ssr")]
fn mapping_row(m: domain::factors::mapping::Mapping) -> AccountMappingRow {
    AccountMappingRow {
        id: m.id,
        account: m.account,
        server_name: m.server_id.map(|_| m.server_name.unwrap_or_else(|| "(deleted server)".into())),
        end_user: m.end_user_name,
        end_user_email: m.end_user_email,
        created: m.created_at,
    }
}

#[server(prefix = "/api", endpoint = "server_accounts/list")]
pub async fn list_server_accounts() -> Result<ServerAccounts, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let mappings = domain::factors::mapping::list(&ctx, &caller).await?;
    let choices = domain::factors::mapping::choices(&ctx, &caller).await?;
    Ok(ServerAccounts {
        mappings: mappings.into_iter().map(mapping_row).collect(),
        end_users: choices
            .end_users
            .into_iter()
            .map(|(id, email, name)| Choice { id, label: format!("{name} <{email}>") })
            .collect(),
        servers: choices.servers.into_iter().map(|(id, name)| Choice { id, label: name }).collect(),
        servers_truncated: choices.servers_truncated,
    })
}

/// Maps `account` to an end user, on every server (`server_id` empty) or on one.
#[server(prefix = "/api", endpoint = "server_accounts/add")]
pub async fn add_server_account(
    account: String,
    end_user_id: String,
    #[server(default)] server_id: String,
) -> Result<AccountMappingRow, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    if end_user_id.trim().is_empty() {
        return Err(
            domain::DomainError::validation("end_user_id", "choose the user who logs in as this account").into()
        );
    }
    let end_user_id = ssr::parse_id(&end_user_id, "end user")?;
    let server_id = match server_id.trim() {
        "" => None,
        id => Some(ssr::parse_id(id, "server")?),
    };
    caller.admin_tenant()?;
    let account = domain::validate::AccountName::parse(&account)
        .map_err(|rule| domain::DomainError::validation("account", rule))?;
    let new = domain::factors::mapping::NewMapping { account, end_user_id, server_id };
    Ok(mapping_row(domain::factors::mapping::add(&ctx, &caller, &actor, &new).await?))
}

#[server(prefix = "/api", endpoint = "server_accounts/remove")]
pub async fn remove_server_account(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    domain::factors::mapping::remove(&ctx, &caller, &actor, ssr::parse_id(&id, "account mapping")?).await?;
    Ok(())
}
