//! SMS/Email mode, as HSS does it: the user names a phone number or an email address of the
//! server's topic; a phone number sends the code to every confirmed endpoint of the topic, an
//! email address to that address only. The prompt goes on the same way whether or not the
//! number or address is in the topic, so the dialogue never tells who the recipients are.

use super::{code_hash, finish, server_login, Stage, CODE_VALID_MINUTES};
use crate::{
    ctx::Ctx,
    entities::{subscription, topic},
    error::DomainResult,
    messages::{self, LoginInfo},
    outbox, subscriptions,
};
use chrono::{DateTime, Duration, Utc};
use proto::login::{LoginResult, Step};
use proto::{Protocol, SubscriptionStatus};
use rand::Rng;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// Codes sent for one account of one server in [`SEND_WINDOW_MINUTES`].
pub const SENDS_PER_ACCOUNT: u64 = 5;
/// Codes sent for logins from one source address (an IPv6 /64) in [`SEND_WINDOW_MINUTES`], to
/// all servers of a tenant (another tenant's agent can neither use up nor observe this count).
pub const SENDS_PER_SOURCE: u64 = 10;
pub const SEND_WINDOW_MINUTES: i64 = 15;

pub const RECIPIENT_PROMPT: &str = "Phone number or email address: ";

/// The first step of an SMS/Email login: ask for a recipient of the topic.
pub(super) async fn begin(
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    topic_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    let topic = match topic_id {
        Some(id) => topic::Entity::find_by_id(id).one(txn).await?,
        None => None,
    };
    if topic.is_none() {
        return Ok(finish(
            row,
            now,
            LoginResult::Denied,
            "the server's notification topic no longer exists",
            Step::deny(
                "HostGuard: this server's login codes have no recipients (its notification topic is gone). Ask your administrator.",
            ),
        ));
    }
    row.stage = Stage::Recipient;
    Ok(Step::prompt(RECIPIENT_PROMPT, true)
        .with_info("HostGuard: this server asks for a verification code sent by SMS or email."))
}

/// What the user typed as a recipient, as endpoints are stored: an email address in lower
/// case, or a phone number as `+` and digits (spaces, dashes, dots and brackets dropped, a
/// leading `00` read as `+`).
fn normalize(input: &str) -> (Protocol, String) {
    let t = input.trim();
    if t.contains('@') {
        return (Protocol::Email, t.to_lowercase());
    }
    let compact: String = t.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let phone = match compact.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => compact,
    };
    (Protocol::Sms, phone)
}

/// Who gets the code for `input`: every confirmed endpoint for a confirmed phone number of the
/// topic, the address alone for a confirmed email address of it, nobody otherwise.
fn recipients(confirmed: &[subscription::Model], input: &str) -> Vec<subscription::Model> {
    let (protocol, wanted) = normalize(input);
    let listed = confirmed.iter().any(|s| s.protocol == protocol && s.endpoint == wanted);
    match (protocol, listed) {
        (_, false) => vec![],
        (Protocol::Sms, true) => confirmed.to_vec(),
        (Protocol::Email, true) => {
            confirmed.iter().filter(|s| s.protocol == protocol && s.endpoint == wanted).cloned().collect()
        }
    }
}

/// The user named a recipient: send a new code (within the limits) and ask for it.
pub(super) async fn send_code(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    input: &str,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    let since = now - Duration::minutes(SEND_WINDOW_MINUTES);
    let by_account = server_login::Entity::find()
        .filter(server_login::Column::ServerId.eq(row.server_id))
        .filter(server_login::Column::Account.eq(&row.account))
        .filter(server_login::Column::CodeSentAt.gt(since))
        .count(txn)
        .await?;
    let by_source = if row.source_ip.is_empty() {
        0
    } else {
        server_login::Entity::find()
            .filter(server_login::Column::TenantId.eq(row.tenant_id))
            .filter(server_login::Column::SourceBlock.eq(&row.source_block))
            .filter(server_login::Column::CodeSentAt.gt(since))
            .count(txn)
            .await?
    };
    if by_account >= SENDS_PER_ACCOUNT || by_source >= SENDS_PER_SOURCE {
        let whom = if by_account >= SENDS_PER_ACCOUNT { "this account" } else { "logins from this address" };
        return Ok(finish(
            row,
            now,
            LoginResult::Denied,
            &format!("too many codes requested for {whom}"),
            Step::deny(format!(
                "HostGuard: too many codes were requested for {whom}. Try again in {SEND_WINDOW_MINUTES} minutes."
            )),
        ));
    }

    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    // Counted (and the prompt the same) whether or not anyone receives it: neither the answer
    // nor the limits tell which numbers and addresses are in the topic.
    row.stage = Stage::Code;
    row.code_hash = Some(code_hash(row.id, &code));
    row.code_sent_at = Some(now);
    row.code_expires_at = Some(now + Duration::minutes(CODE_VALID_MINUTES));

    // Chosen as `start` chose it: while an enable is on its way, its topic, never the one it
    // replaces. The server lock orders this after any change in flight.
    let config = crate::entities::two_factor_config::Entity::find_by_id(row.server_id).one(txn).await?;
    let topic_id = super::sms_topic(config.as_ref());
    let topic = match topic_id {
        Some(id) => topic::Entity::find_by_id(id).one(txn).await?,
        None => None,
    };
    let mut sent = 0;
    if let Some(t) = &topic {
        let confirmed = subscription::Entity::find()
            .filter(subscription::Column::TopicId.eq(t.id))
            .filter(subscription::Column::Status.eq(SubscriptionStatus::Confirmed.as_str()))
            .all(txn)
            .await?;
        let login = LoginInfo {
            number: row.number,
            account: &row.account,
            server_name: &row.server_name,
            source_ip: &row.source_ip,
            valid_minutes: CODE_VALID_MINUTES,
        };
        for s in recipients(&confirmed, input) {
            let ch = s.protocol.into();
            let unsubscribe = subscriptions::new_unsubscribe_token(txn, s.id, now).await?;
            let (_, unsubscribe_url) = subscriptions::links(ctx, None, &unsubscribe);
            let m = messages::login_code(&subscriptions::info(t), ch, &s.endpoint, &login, &code, &unsubscribe_url);
            outbox::enqueue(txn, now, outbox::NewMessage { secrets: vec![code.clone(), unsubscribe], ..m }).await?;
            sent += 1;
        }
    }
    if sent > 0 {
        ctx.outbox_signal.notify_one();
    }
    // The audit says what happened; the user is told the same either way.
    row.reason = format!("code sent to {sent} endpoint{}", if sent == 1 { "" } else { "s" });
    let shown: String = input.trim().chars().take(64).collect();
    Ok(Step::prompt(format!("Input #{} Code: ", row.number), false).with_info(format!(
        "If {shown} receives this server's login codes, a message with code #{} is on its way. It is valid for {CODE_VALID_MINUTES} minutes.",
        row.number
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(protocol: &str, endpoint: &str) -> subscription::Model {
        subscription::Model {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            topic_id: Uuid::nil(),
            protocol: Protocol::parse(protocol).unwrap(),
            endpoint: endpoint.into(),
            remark: String::new(),
            status: SubscriptionStatus::Confirmed,
            confirm_token_hash: None,
            confirm_expires_at: None,
            created_at: Utc::now(),
            confirmed_at: None,
            canceled_at: None,
        }
    }

    #[test]
    fn a_phone_number_reaches_everyone_an_address_only_itself() {
        let topic = [sub("sms", "+8613800000001"), sub("email", "ops@acme.example"), sub("email", "dev@acme.example")];
        let to = |input: &str| recipients(&topic, input).into_iter().map(|s| s.endpoint).collect::<Vec<_>>();
        assert_eq!(to("+86 138-0000-0001"), ["+8613800000001", "ops@acme.example", "dev@acme.example"]);
        assert_eq!(to("008613800000001"), ["+8613800000001", "ops@acme.example", "dev@acme.example"]);
        assert_eq!(to(" OPS@acme.example "), ["ops@acme.example"]);
        assert!(to("+8613800000009").is_empty(), "a number not in the topic gets nothing");
        assert!(to("eve@evil.example").is_empty());
        assert!(to("").is_empty());
    }
}
