//! The Two-Factor Authentication tab: the server list with 2FA status, Enable / Disable /
//! Change Topic, cancel and retry, and agent install commands.

use crate::models::{
    two_factor::{TwoFactorChange, TwoFactorQuery},
    AppError, ChangeResult, TopicOption, TwoFactorPage,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod convert {
    use crate::models::{RefusedServer, TwoFactorRow, TwoFactorSetting};

    fn setting(s: &domain::two_factor::Setting) -> TwoFactorSetting {
        TwoFactorSetting { on: s.on, method: s.method, topic: s.topic.as_ref().map(|t| t.display_name.clone()) }
    }

    pub fn row(r: domain::two_factor::Row) -> TwoFactorRow {
        let readiness = crate::functions::servers::readiness_items(&r.readiness);
        let shown = setting(r.effective.shown());
        let topic_urn = r.effective.shown().topic.as_ref().map(|t| t.urn.clone());
        let agent_online = r.agent_online;
        TwoFactorRow {
            id: r.server.id,
            name: r.server.name,
            ip: r.server.ip,
            os_type: r.server.os_type,
            os_name: r.server.os_name,
            agent_online,
            status: r.status,
            in_force: setting(&r.effective.in_force),
            method: shown.method,
            topic: shown.topic,
            topic_urn,
            readiness,
        }
    }

    /// One entry per server, naming it once, with its reasons.
    pub fn refused(r: Vec<domain::two_factor::Refused>) -> Vec<RefusedServer> {
        let mut out: Vec<(uuid::Uuid, RefusedServer)> = vec![];
        for r in r {
            match out.iter_mut().find(|(id, _)| *id == r.server_id) {
                Some((_, s)) => {
                    let new: Vec<String> = r.reasons.into_iter().filter(|m| !s.reasons.contains(m)).collect();
                    s.reasons.extend(new)
                }
                None => out.push((r.server_id, RefusedServer { name: r.server_name, reasons: r.reasons })),
            }
        }
        out.into_iter().map(|(_, s)| s).collect()
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use domain::two_factor::Refused;

    #[test]
    fn each_refused_server_is_named_once() {
        let refused = |n: u128, name: &str, reasons: &[&str]| Refused {
            server_id: uuid::Uuid::from_u128(n),
            server_name: name.into(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        };
        let out = super::convert::refused(vec![
            refused(1, "web-01", &["sshd does not use PAM.", "the agent is offline."]),
            refused(1, "web-01", &["sshd does not use PAM."]),
            refused(2, "db-02", &["protection is off"]),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].name, "web-01");
        assert_eq!(out[0].reasons, ["sshd does not use PAM.", "the agent is offline."]);
        assert_eq!(out[1].reasons, ["protection is off"]);
    }
}

/// One page of the tab.
#[server(prefix = "/api", endpoint = "two-factor/list")]
pub async fn list_two_factor(#[server(default)] query: TwoFactorQuery) -> Result<TwoFactorPage, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let TwoFactorQuery { search, status, os_type, method, sort, region, page, page_size } = query;
    let offset = domain::servers::page_offset(page, page_size)?;
    let q = domain::two_factor::ListQuery {
        search: Some(search),
        status: Some(status),
        os_type: Some(os_type),
        method: Some(method),
        agent: None,
        region: Some(region),
        sort: Some(sort),
        offset,
        limit: page_size,
    };
    let result = domain::two_factor::list(&ctx, &caller, &q).await?;
    // Servers whose login codes go to a topic nobody has confirmed get a warning.
    let sms_topic = |r: &domain::two_factor::Row| r.effective.shown().topic.as_ref().map(|t| t.id);
    let topic_ids: Vec<uuid::Uuid> = result.items.iter().filter_map(sms_topic).collect();
    let warnings = domain::topics::recipient_warnings(&ctx, &topic_ids).await?;
    let items = result
        .items
        .into_iter()
        .map(|r| {
            let warning = sms_topic(&r).and_then(|t| warnings.get(&t)).cloned();
            let mut row = convert::row(r);
            if let Some(message) = warning {
                row.readiness.push(crate::models::ReadinessItem {
                    rule: crate::models::ReadinessRule::TopicRecipients,
                    blocker: false,
                    message,
                });
            }
            row
        })
        .collect();
    Ok(TwoFactorPage {
        items,
        total: result.total,
        page,
        page_size,
        apply_delay_secs: ctx.rollout.apply_delay.num_seconds(),
    })
}

/// Topics the dialog offers: those with at least one confirmed subscription.
#[server(prefix = "/api", endpoint = "two-factor/topics")]
pub async fn usable_topics() -> Result<Vec<TopicOption>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    Ok(domain::two_factor::usable_topics(&ctx, &caller)
        .await?
        .into_iter()
        .map(|t| TopicOption { id: t.id, name: t.name, display_name: t.display_name })
        .collect())
}

/// Enable (`method` sms or code, `topic_id` for sms), Disable or Change Topic.
#[server(prefix = "/api", endpoint = "two-factor/save")]
pub async fn save_two_factor(change: TwoFactorChange) -> Result<ChangeResult, AppError> {
    use crate::models::two_factor::{ChangeAction, LoginMethod};
    use domain::{two_factor::Action, DomainError};
    let (ctx, caller) = super::ssr::caller().await?;
    let topic = || -> Result<uuid::Uuid, AppError> {
        change.topic_id.ok_or_else(|| {
            DomainError::validation("topic", "choose a topic whose subscribers receive the codes").into()
        })
    };
    let action = match change.action {
        ChangeAction::Enable => match change.method {
            Some(LoginMethod::Sms) => Action::EnableSms { topic_id: topic()? },
            Some(LoginMethod::Code) => Action::EnableCode,
            None => {
                return Err(
                    DomainError::validation("method", "must be sms (SMS/Email) or code (verification code)").into()
                )
            }
        },
        ChangeAction::Disable => Action::Disable,
        ChangeAction::ChangeTopic => Action::ChangeTopic { topic_id: topic()? },
    };
    let ids = change.server_ids;
    let actor = super::ssr::actor(&caller).await;
    let out = domain::two_factor::save(&ctx, &caller, &actor, &ids, action).await?;
    let unchanged =
        out.unchanged.into_iter().map(|u| crate::models::RefusedServer { name: u.server_name, reasons: vec![u.reason] }).collect();
    Ok(ChangeResult { changed: out.saved.len(), refused: convert::refused(out.refused), unchanged })
}

/// Cancels changes still on their way: waiting for the apply delay or for the agent.
#[server(prefix = "/api", endpoint = "two-factor/cancel")]
pub async fn cancel_two_factor(#[server(default)] server_ids: Vec<uuid::Uuid>) -> Result<ChangeResult, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let actor = super::ssr::actor(&caller).await;
    let out = domain::two_factor::cancel(&ctx, &caller, &actor, &server_ids).await?;
    Ok(ChangeResult { changed: out.done.len(), refused: convert::refused(out.refused), unchanged: vec![] })
}

/// Tries failed changes again.
#[server(prefix = "/api", endpoint = "two-factor/retry")]
pub async fn retry_two_factor(#[server(default)] server_ids: Vec<uuid::Uuid>) -> Result<ChangeResult, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let actor = super::ssr::actor(&caller).await;
    let out = domain::two_factor::retry(&ctx, &caller, &actor, &server_ids).await?;
    Ok(ChangeResult { changed: out.done.len(), refused: convert::refused(out.refused), unchanged: vec![] })
}
