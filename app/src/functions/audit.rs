//! The audit trail and the outbox, read-only.

use crate::models::{AppError, AuditRow, OutboxPage, OutboxQuery};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "audit/list")]
pub async fn list_audit() -> Result<Vec<AuditRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let events = domain::audit::list(&ctx, &caller, 200).await?;
    Ok(events
        .into_iter()
        .map(|e| AuditRow {
            time: e.created_at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
            source_ip: e.source_ip,
        })
        .collect())
}

/// Operators: one page of the outbox, newest first, with status, attempts, errors and the
/// text (secrets masked), filtered by tenant, status and channel.
#[server(prefix = "/api", endpoint = "admin/outbox")]
pub async fn list_outbox(#[server(default)] query: OutboxQuery) -> Result<OutboxPage, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let tenant_id = match query.tenant.trim() {
        "" => None,
        id => Some(super::ssr::parse_id(id, "tenant")?),
    };
    let q = domain::outbox::OutboxQuery {
        tenant_id,
        status: Some(query.status),
        channel: Some(query.channel),
        page: query.page,
        page_size: query.page_size,
    };
    let page = domain::outbox::list(&ctx, &caller, &q).await?;
    Ok(OutboxPage {
        items: page
            .items
            .into_iter()
            .map(|l| {
                let m = l.message;
                crate::models::OutboxRow {
                    id: m.id,
                    tenant: l.tenant_name,
                    created: m.created_at,
                    channel: m.channel,
                    kind: m.kind,
                    recipient: m.recipient,
                    subject: m.subject,
                    body_text: m.body_text,
                    status: m.status,
                    attempts: m.attempts,
                    last_error: m.last_error,
                    sent: m.sent_at,
                }
            })
            .collect(),
        total: page.total,
        page: query.page,
        page_size: query.page_size,
    })
}
