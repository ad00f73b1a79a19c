//! Notification topics of the caller's tenant.

use crate::models::{AppError, TopicRow};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "topics/list")]
pub async fn list_topics() -> Result<Vec<TopicRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let topics = domain::topics::list(&ctx, &caller).await?;
    Ok(topics
        .into_iter()
        .map(|t| TopicRow {
            name: t.name,
            display_name: t.display_name,
            urn: t.urn,
            created: super::ssr::datetime(t.created_at),
        })
        .collect())
}
