//! The audit trail and the outbox, read-only.

use crate::models::{AppError, AuditRow, OutboxRow};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "audit/list")]
pub async fn list_audit() -> Result<Vec<AuditRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let events = domain::audit::list(&ctx, &caller, 200).await?;
    Ok(events
        .into_iter()
        .map(|e| AuditRow {
            time: super::ssr::datetime(e.created_at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
            source_ip: e.source_ip,
        })
        .collect())
}

/// Operators: the newest messages with status, attempts, errors and the rendered text.
#[server(prefix = "/api", endpoint = "admin/outbox")]
pub async fn list_outbox() -> Result<Vec<OutboxRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let messages = domain::outbox::list(&ctx, &caller, 200).await?;
    Ok(messages
        .into_iter()
        .map(|m| OutboxRow {
            id: m.id.to_string(),
            created: super::ssr::datetime(m.created_at),
            channel: m.channel,
            kind: m.kind,
            recipient: m.recipient,
            subject: m.subject,
            body_text: m.body_text,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            sent: m.sent_at.map(super::ssr::datetime),
        })
        .collect())
}
