//! The methods a verification-code login offers at its one prompt, besides a passcode typed
//! there (authenticator app, recovery code, or a code sent by SMS or call): `1` Push (with an
//! approval device), `2` Call me and `3` SMS passcode (with a confirmed phone, while the
//! tenant's credits pay for them). The numbers never change; the lines list only what is
//! offered, short and plain for simple clients.

use super::{code_hash, push, server_login, Stage, CODE_VALID_MINUTES};
use crate::{
    credits::{self, Paid},
    ctx::Ctx,
    entities::{credit_entry, server_login as login_entity},
    error::DomainResult,
    outbox::{self, Channel, MessageKind, NewMessage},
    validate::Phone,
};
use chrono::{DateTime, Duration, Utc};
use proto::login::Step;
use rand::Rng;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait};
use uuid::Uuid;

use crate::factors::phones::login_phone;

/// The prompt when more than a passcode is offered: echo on, as it takes numbers too.
pub const MENU_PROMPT: &str = "Passcode or number: ";
pub const OUT_OF_CREDITS: &str = "SMS and calls are unavailable: your organisation is out of credits.";
pub const CALLS_OUT_OF_CREDITS: &str = "Calls are unavailable: your organisation has too few credits.";
/// Codes sent by SMS or call for one login ...
pub const SENDS_PER_LOGIN: u64 = 3;
/// ... and for one person's logins in [`SENDS_WINDOW_MINUTES`] (each one costs the tenant).
pub const SENDS_PER_PERSON: u64 = 5;
pub const SENDS_WINDOW_MINUTES: i64 = 15;

/// What the person may choose now.
#[derive(Clone, Debug, Default)]
pub(super) struct Offer {
    pub push: bool,
    /// Why push is not offered although the person could approve one (the rate limits).
    pub push_paused: Option<String>,
    pub phone: Option<Phone>,
    pub call: bool,
    pub sms: bool,
}

impl Offer {
    /// True when the prompt offers more than a passcode.
    pub fn any(&self) -> bool {
        self.push || self.push_paused.is_some() || self.phone.is_some()
    }

    /// The menu's lines: what to type, each method offered, and why one is missing.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec!["HostGuard: type a passcode, or the number of a method:".to_owned()];
        if self.push {
            lines.push("1. Push to your approval device".into());
        }
        if let Some(phone) = &self.phone {
            let end = ending(phone);
            if self.call {
                lines.push(format!("2. Call me (phone ending {end})"));
            }
            if self.sms {
                lines.push(format!("3. SMS passcode (phone ending {end})"));
            }
            if !self.sms {
                lines.push(OUT_OF_CREDITS.into());
            } else if !self.call {
                lines.push(CALLS_OUT_OF_CREDITS.into());
            }
        }
        if let Some(why) = &self.push_paused {
            lines.push(why.clone());
        }
        lines
    }

    /// The menu as a step, after `first` (what happened, if anything).
    pub fn step(&self, first: Option<String>) -> Step {
        let mut step = Step::prompt(MENU_PROMPT, true);
        step.info.extend(first);
        step.info.extend(self.lines());
        step
    }
}

/// The last four digits, all a prompt shows of a phone number.
fn ending(phone: &Phone) -> String {
    let digits: Vec<char> = phone.as_str().chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

/// What `user_id` may choose for login `row` now.
pub(super) async fn offer(
    txn: &DatabaseTransaction,
    row: &server_login::Model,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Offer> {
    let mut offer = Offer::default();
    if push::can_approve(txn, user_id).await? {
        match push::over_limit(txn, user_id, now).await? {
            None => offer.push = true,
            Some(why) => offer.push_paused = Some(why),
        }
    }
    offer.phone = login_phone(txn, user_id).await?;
    if offer.phone.is_some() {
        let balance = credits::balance(txn, row.tenant_id).await?;
        offer.call = balance >= i64::from(Paid::Call.cost());
        offer.sms = balance >= i64::from(Paid::SmsPasscode.cost());
    }
    Ok(offer)
}

/// A method's number typed at the prompt.
pub(super) fn choice(typed: &str) -> Option<u8> {
    match typed {
        "1" => Some(1),
        "2" => Some(2),
        "3" => Some(3),
        _ => None,
    }
}

/// The person typed the number of a method.
pub(super) async fn choose(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    user_id: Uuid,
    offer: &Offer,
    choice: u8,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    let not_offered = || offer.step(Some(format!("{choice} is not one of the methods offered.")));
    match choice {
        1 if offer.push => push::send(ctx, txn, row, user_id, now).await,
        2 | 3 => {
            let Some(phone) = &offer.phone else { return Ok(not_offered()) };
            let what = if choice == 2 { Paid::Call } else { Paid::SmsPasscode };
            if (what == Paid::Call && !offer.call) || (what == Paid::SmsPasscode && !offer.sms) {
                return Ok(offer.step(None));
            }
            send_code(ctx, txn, row, user_id, offer, phone, what, now).await
        }
        _ => Ok(not_offered()),
    }
}

/// Paid sends for the person's logins lately.
async fn person_sends(txn: &DatabaseTransaction, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<u64> {
    let logins = login_entity::Entity::find()
        .select_only()
        .column(login_entity::Column::Id)
        .filter(login_entity::Column::EndUserId.eq(user_id))
        .filter(
            login_entity::Column::CreatedAt
                .gt(now - Duration::minutes(SENDS_WINDOW_MINUTES + super::LOGIN_VALID_MINUTES)),
        )
        .into_query();
    Ok(credit_entry::Entity::find()
        .filter(credit_entry::Column::LoginId.in_subquery(logins))
        .filter(credit_entry::Column::CreatedAt.gt(now - Duration::minutes(SENDS_WINDOW_MINUTES)))
        .count(txn)
        .await?)
}

/// The code as a call reads it: digit by digit, twice.
pub fn spoken(code: &str) -> String {
    code.chars().map(String::from).collect::<Vec<_>>().join(", ")
}

/// Charges the tenant and sends a new 6-digit code to the person's phone, by call or SMS; the
/// login's earlier code stops working.
#[allow(clippy::too_many_arguments)]
async fn send_code(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    user_id: Uuid,
    offer: &Offer,
    phone: &Phone,
    what: Paid,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    if credits::charges_for(txn, &[row.id]).await? >= SENDS_PER_LOGIN {
        return Ok(offer.step(Some(format!("No more codes can be sent for this login (at most {SENDS_PER_LOGIN})."))));
    }
    if person_sends(txn, user_id, now).await? >= SENDS_PER_PERSON {
        return Ok(offer.step(Some(format!(
            "Too many codes were sent to your phone. Try again in {SENDS_WINDOW_MINUTES} minutes."
        ))));
    }
    if credits::charge(txn, row.tenant_id, row.id, what, now).await?.is_none() {
        let mut poorer = offer.clone();
        poorer.call = false;
        poorer.sms = what == Paid::Call && offer.sms;
        return Ok(poorer.step(None));
    }
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    row.stage = Stage::Verify;
    row.code_hash = Some(code_hash(row.id, &code));
    row.code_sent_at = Some(now);
    row.code_expires_at = Some(now + Duration::minutes(CODE_VALID_MINUTES));
    let from = if row.source_ip.is_empty() { String::new() } else { format!(" from {}", row.source_ip) };
    let end = ending(phone);
    let (channel, body, secrets, info) = match what {
        Paid::SmsPasscode => (
            Channel::Sms,
            format!(
                "HostGuard code {code} for the login to {}@{}{from}. Valid {CODE_VALID_MINUTES} min. Not you? Do not share it.",
                row.account, row.server_name
            ),
            vec![code.clone()],
            format!("A passcode was sent by SMS to the phone ending {end}. It is valid for {CODE_VALID_MINUTES} minutes."),
        ),
        Paid::Call => {
            let said = spoken(&code);
            (
                Channel::Voice,
                format!(
                    "This is HostGuard. Your login code for {} on {} is: {said}. Again: {said}. If you are not logging in, hang up.",
                    row.account, row.server_name
                ),
                vec![code.clone(), said],
                format!("Calling the phone ending {end} with a passcode. It is valid for {CODE_VALID_MINUTES} minutes."),
            )
        }
    };
    row.reason = match what {
        Paid::SmsPasscode => "SMS passcode sent".into(),
        Paid::Call => "call passcode sent".into(),
    };
    outbox::enqueue(
        txn,
        now,
        NewMessage {
            tenant_id: Some(row.tenant_id),
            channel,
            kind: MessageKind::LoginCode,
            recipient: phone.as_str().to_owned(),
            sender_name: "HostGuard".into(),
            subject: format!("Login code for {}@{}", row.account, row.server_name),
            body_text: body,
            body_html: String::new(),
            secrets,
        },
    )
    .await?;
    ctx.outbox_signal.notify_one();
    Ok(Step::prompt(MENU_PROMPT, true).with_info(info))
}

/// Whether `typed` is the code sent to the login's phone, still valid.
pub(super) fn sent_code_matches(row: &server_login::Model, typed: &str, now: DateTime<Utc>) -> bool {
    let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    row.code_expires_at.is_some_and(|at| now <= at)
        && row.code_hash.as_deref() == Some(code_hash(row.id, &compact).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone() -> Option<Phone> {
        Some(Phone::parse("+8613800001234").unwrap())
    }

    #[test]
    fn lines_list_only_what_is_offered() {
        let all = Offer { push: true, phone: phone(), call: true, sms: true, ..Default::default() };
        assert_eq!(
            all.lines(),
            [
                "HostGuard: type a passcode, or the number of a method:",
                "1. Push to your approval device",
                "2. Call me (phone ending 1234)",
                "3. SMS passcode (phone ending 1234)"
            ]
        );
        let broke = Offer { phone: phone(), ..Default::default() };
        assert_eq!(broke.lines()[1..], [OUT_OF_CREDITS]);
        let poor = Offer { phone: phone(), sms: true, ..Default::default() };
        assert_eq!(poor.lines()[1..], ["3. SMS passcode (phone ending 1234)", CALLS_OUT_OF_CREDITS]);
        assert!(!Offer::default().any());
        for line in all.lines().iter().chain(broke.lines().iter()) {
            assert!(line.len() <= 80 && !line.chars().any(char::is_control), "{line}");
        }
    }

    #[test]
    fn numbers_and_speech() {
        assert_eq!(choice(" 1".trim()), Some(1));
        assert_eq!(choice("4"), None);
        assert_eq!(choice("123456"), None);
        assert_eq!(spoken("482913"), "4, 8, 2, 9, 1, 3");
    }
}
