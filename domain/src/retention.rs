//! Forgetting what is no longer needed: sign-in attempt counts past their window, delivered
//! messages and the login audit past the retention period, and used or expired tokens. Run on a schedule by the
//! server, beside the session store's own sweep of expired sessions.

use crate::{
    ctx::Ctx,
    entities::{agent_install_token, login_attempt, outbox, server_login, subscription, unsubscribe_token},
    error::DomainResult,
};
use chrono::Duration;
use proto::OutboxStatus;
use sea_orm::{sea_query::Expr, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

/// How long delivered messages, the login audit, used or expired tokens and spent sign-in
/// counts are kept. At least two days: the confirmation limits look back that far (the login
/// limits, 15 minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention(pub Duration);

impl Default for Retention {
    fn default() -> Self {
        Retention(Duration::days(30))
    }
}

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub login_attempts: u64,
    pub messages: u64,
    pub install_tokens: u64,
    pub confirm_tokens: u64,
    pub unsubscribe_tokens: u64,
    /// Logins to servers (the login audit), online and offline.
    pub server_logins: u64,
}

pub async fn purge(ctx: &Ctx, retention: Retention) -> DomainResult<Purged> {
    let now = ctx.clock.now();
    let before = now - retention.0;
    // A count is spent once its window has passed and any lock it set is over.
    let spent = now - ctx.lockout.window.max(ctx.lockout.lock_for);
    let login_attempts = login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::LastFailureAt.lte(spent))
        .filter(
            Condition::any()
                .add(login_attempt::Column::LockedUntil.is_null())
                .add(login_attempt::Column::LockedUntil.lte(now)),
        )
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // Messages still to be sent stay whatever their age; sent and failed ones go.
    let messages = outbox::Entity::delete_many()
        .filter(outbox::Column::Status.is_in([OutboxStatus::Sent, OutboxStatus::Held, OutboxStatus::Failed]))
        .filter(outbox::Column::CreatedAt.lte(before))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    let install_tokens = agent_install_token::Entity::delete_many()
        .filter(
            Condition::any()
                .add(agent_install_token::Column::ExpiresAt.lte(before))
                .add(agent_install_token::Column::UsedAt.lte(before)),
        )
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // An expired confirmation link can only fail; its hash is dropped (a resend makes a new one).
    let confirm_tokens = subscription::Entity::update_many()
        .col_expr(subscription::Column::ConfirmTokenHash, Expr::value(Option::<String>::None))
        .filter(subscription::Column::ConfirmTokenHash.is_not_null())
        .filter(subscription::Column::ConfirmExpiresAt.lte(now))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // Unsubscribe links stay valid as long as their subscription exists.
    let live = subscription::Entity::find().select_only().column(subscription::Column::Id).into_query();
    let unsubscribe_tokens = unsubscribe_token::Entity::delete_many()
        .filter(unsubscribe_token::Column::SubscriptionId.not_in_subquery(live))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // The login audit keeps the retention period; older logins are long over (a dialogue ends
    // within minutes), so no limit counts them any more.
    let server_logins = server_login::Entity::delete_many()
        .filter(server_login::Column::CreatedAt.lte(before))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    Ok(Purged { login_attempts, messages, install_tokens, confirm_tokens, unsubscribe_tokens, server_logins })
}
