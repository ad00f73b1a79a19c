//! Agent install and re-install tokens: the install command on the 2FA tab, the re-install
//! command on a server's page, and the token list with revoke.

pub use crate::models::AgentToken;
use crate::models::{AppError, InstallCommand};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use super::super::ssr::{actor, caller, parse_id};

    /// The command an admin runs as root on the server, one step a line (each ends in `&&`):
    /// install the package (it changes no PAM file), tell the service which console to use,
    /// register with the token, then (re)start the service from the saved registration. The
    /// token reaches the agent on standard input from the shell's own `printf` (a builtin, so no
    /// process shows it), never in an argument list, where `ps` and sudo's log would show it to
    /// every user of the machine.
    pub fn command(public_url: &str, token: &str) -> String {
        let console = public_url.trim_end_matches('/');
        // A development console without TLS needs the agent's explicit consent, in the
        // registration and in the service's settings.
        let (insecure, insecure_setting) = if console.starts_with("http://") {
            (" --insecure-http", " 'HOSTGUARD_AGENT_ARGS=--insecure-http'")
        } else {
            ("", "")
        };
        // `restart`, not `start`: after a re-install an old agent may still be running.
        format!(
            "sudo dpkg -i {deb} &&\n\
             printf '%s\\n' 'HOSTGUARD_CONSOLE={console}'{insecure_setting} | sudo tee /etc/default/hostguard-agent >/dev/null &&\n\
             printf '%s\\n' '{token}' | sudo hostguard-agent --console {console}{insecure} --token-file - --once &&\n\
             sudo systemctl enable hostguard-agent && sudo systemctl restart hostguard-agent",
            deb = super::AGENT_PACKAGE
        )
    }
}

/// The server package `scripts/build-deb.sh` makes; the console and it share the workspace version.
pub const AGENT_PACKAGE: &str = concat!("hostguard-agent_", env!("CARGO_PKG_VERSION"), "_amd64.deb");

/// A one-time install command for a new server's agent.
#[server(prefix = "/api", endpoint = "agents/install-token")]
pub async fn create_install_command() -> Result<InstallCommand, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let (token, expires) = domain::agents::create_install_token(&ctx, &caller, &actor).await?;
    Ok(InstallCommand { command: ssr::command(&ctx.public_url, &token), expires })
}

/// A one-time command that replaces the agent of this server (e.g. after the machine was
/// rebuilt); its token registers this server only. Audited.
#[server(prefix = "/api", endpoint = "agents/reinstall-token")]
pub async fn create_reinstall_command(server_id: String) -> Result<InstallCommand, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&server_id, "server")?;
    let (token, expires) = domain::agents::create_reinstall_token(&ctx, &caller, &actor, id).await?;
    Ok(InstallCommand { command: ssr::command(&ctx.public_url, &token), expires })
}

/// The tenant's newest install and re-install tokens.
#[server(prefix = "/api", endpoint = "agents/tokens")]
pub async fn list_agent_tokens() -> Result<Vec<AgentToken>, AppError> {
    use crate::models::{TokenKind, TokenState};
    let (ctx, caller) = ssr::caller().await?;
    let tokens = domain::agents::list_tokens(&ctx, &caller).await?;
    Ok(tokens
        .into_iter()
        .map(|t| AgentToken {
            id: t.id,
            kind: if t.reinstall_server.is_some() { TokenKind::Reinstall } else { TokenKind::Install },
            for_server: t.reinstall_server.map(|(_, name)| name),
            registered: t.registered_server.map(|(_, name)| name),
            created: t.created_at,
            expires: t.expires_at,
            state: match t.state {
                domain::agents::TokenState::Valid => TokenState::Valid,
                domain::agents::TokenState::Used => TokenState::Used,
                domain::agents::TokenState::Revoked => TokenState::Revoked,
                domain::agents::TokenState::Expired => TokenState::Expired,
            },
            state_at: t.used_at.or(t.revoked_at),
        })
        .collect())
}

/// Revokes a token that has not registered a server yet. Audited.
#[server(prefix = "/api", endpoint = "agents/tokens/revoke")]
pub async fn revoke_agent_token(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    domain::agents::revoke_token(&ctx, &caller, &actor, ssr::parse_id(&id, "install token")?).await?;
    Ok(())
}
