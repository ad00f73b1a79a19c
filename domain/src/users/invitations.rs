//! Invitations, the only way to a first factor. A tenant admin invites an end user by email or
//! SMS: a new person (a user row that cannot sign in yet), or someone again after a lost phone.
//! The link is valid for [`VALID_HOURS`]; only its SHA-256 is kept. Resending makes a new link
//! and kills the old one; revoking kills it; a newer invitation revokes the older. Every one of
//! these is audited, and each message goes through the outbox in the same transaction.
//!
//! Following the link only shows it (a GET: mail scanners fetch links); the page's buttons act.
//! The person sets a password, then adds an authenticator app (with a code from it) or a
//! passkey; that first factor makes the account active. A first factor comes from these pages
//! only, never from a portal session (see `factors::guard`). Until then they cannot sign in, and logins to servers are
//! refused as for anyone without a factor.

use super::{state_of, UserState};
use crate::{
    accounts::{normalize_email, MAX_PASSWORD_LEN},
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{invitation, tenant, user},
    error::{DomainError, DomainResult},
    factors::{
        authenticators::{self, Enrolment},
        end_user_in, passkeys, SessionRef,
    },
    messages::{escape_html, html_page},
    outbox::{self, Channel, MessageKind, NewMessage},
    password, tokens,
    validate::{Email, Phone},
};
use chrono::{DateTime, Duration, Utc};
pub use proto::users::InvitationStatus;
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

/// How long a link works.
pub const VALID_HOURS: i64 = 24;
/// A resend waits this long after the last message, so a double click sends one.
pub const RESEND_AFTER_SECS: i64 = 60;
/// Invitation messages to one person in a day, over all their invitations and resends.
pub const SENDS_PER_DAY: i32 = 5;
pub const DISPLAY_NAME_MAX: usize = 128;

/// Where an invitation goes: the person's email (their sign-in name), or a phone by SMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    Email,
    Sms(Phone),
}

impl Via {
    /// `send_by` is `email` or `sms`; for SMS, `phone` is the number.
    pub fn parse(send_by: &str, phone: &str) -> DomainResult<Via> {
        match send_by.trim() {
            "" | "email" => Ok(Via::Email),
            "sms" => Phone::parse(phone.trim()).map(Via::Sms).map_err(|rule| DomainError::validation("phone", rule)),
            _ => Err(DomainError::validation("send_by", "must be email or sms")),
        }
    }

    fn channel(&self) -> Channel {
        match self {
            Via::Email => Channel::Email,
            Via::Sms(_) => Channel::Sms,
        }
    }
}

/// A new person to invite, parsed.
#[derive(Clone, Debug)]
pub struct NewPerson {
    pub email: Email,
    pub display_name: String,
    pub via: Via,
}

impl NewPerson {
    /// Checks every field, naming each bad one.
    pub fn parse(email: &str, display_name: &str, send_by: &str, phone: &str) -> DomainResult<NewPerson> {
        let mut errors = vec![];
        let email = Email::parse(email.trim()).map_err(|rule| errors.push(crate::FieldError::new("email", rule))).ok();
        let name = display_name.trim();
        if name.chars().count() > DISPLAY_NAME_MAX {
            errors
                .push(crate::FieldError::new("display_name", format!("must be at most {DISPLAY_NAME_MAX} characters")));
        } else if name.chars().any(char::is_control) {
            errors.push(crate::FieldError::new("display_name", "must be one line without control characters"));
        }
        let via = match Via::parse(send_by, phone) {
            Ok(v) => Some(v),
            Err(DomainError::Invalid(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e),
        };
        match (email, via) {
            (Some(email), Some(via)) if errors.is_empty() => {
                let display_name = if name.is_empty() {
                    email.as_str().split('@').next().unwrap_or_default().to_owned()
                } else {
                    name.to_owned()
                };
                Ok(NewPerson { email, display_name, via })
            }
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

/// An invitation just sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub user_id: Uuid,
    pub email: String,
    pub channel: Channel,
    pub address: String,
    pub expires_at: DateTime<Utc>,
}

pub(crate) fn status_of(i: &invitation::Model, now: DateTime<Utc>) -> InvitationStatus {
    if i.accepted_at.is_some() {
        InvitationStatus::Accepted
    } else if i.revoked_at.is_some() {
        InvitationStatus::Revoked
    } else if i.expires_at <= now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    }
}

/// The user's invitation that is still usable, if any (at most one is: a new one revokes the
/// older).
pub(crate) async fn open_for<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Option<invitation::Model>> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::UserId.eq(user_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .order_by_desc(invitation::Column::CreatedAt)
        .one(conn)
        .await?)
}

/// Invitation `id` of `user_id` if it is still usable and its password is set: what lets the
/// invitation's own pages add a first factor (see `factors::guard`).
pub(crate) async fn open_with_password<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Option<invitation::Model>> {
    Ok(open_for(conn, user_id, now).await?.filter(|i| i.id == id && i.password_set_at.is_some()))
}

/// After a first factor added with invitation `id`: the invitation is used up, and the account
/// becomes active (an account that was active stays as it was). Audited when it activates.
pub(crate) async fn accepted(
    txn: &DatabaseTransaction,
    tenant_id: Uuid,
    user_id: Uuid,
    id: Uuid,
    actor: &Actor,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(Some(now)))
        .filter(invitation::Column::Id.eq(id))
        .exec(txn)
        .await?;
    let activated = user::Entity::update_many()
        .col_expr(user::Column::ActivatedAt, Expr::value(Some(now)))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::ActivatedAt.is_null())
        .exec(txn)
        .await?;
    if activated.rows_affected == 1 {
        let email = user::Entity::find_by_id(user_id).one(txn).await?.map(|u| u.email).unwrap_or_default();
        audit::record(
            txn,
            now,
            actor,
            Entry {
                tenant_id: Some(tenant_id),
                action: AuditAction::UserActivate,
                target: email,
                detail: "enrolled a first factor from the invitation: the account is active".into(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Messages for this person in the last day, over their invitations, and when the last went.
async fn recent_sends(
    txn: &DatabaseTransaction,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<(i32, Option<DateTime<Utc>>)> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::UserId.eq(user_id))
        .filter(invitation::Column::SentAt.gt(now - Duration::hours(24)))
        .all(txn)
        .await?;
    Ok((rows.iter().map(|r| r.sends).sum(), rows.iter().map(|r| r.sent_at).max()))
}

async fn check_send_limits(txn: &DatabaseTransaction, person: &user::Model, now: DateTime<Utc>) -> DomainResult<()> {
    let (sends, last) = recent_sends(txn, person.id, now).await?;
    if let Some(last) = last {
        let wait = (last + Duration::seconds(RESEND_AFTER_SECS) - now).num_seconds();
        if wait > 0 {
            return Err(DomainError::RateLimited(format!(
                "An invitation was sent to {} moments ago. Wait {wait} seconds before sending another.",
                person.email
            )));
        }
    }
    if sends >= SENDS_PER_DAY {
        return Err(DomainError::RateLimited(format!(
            "{} has been sent {sends} invitations in the last 24 hours, the most allowed. Try again tomorrow, \
             or check the address with them.",
            person.email
        )));
    }
    Ok(())
}

fn link(ctx: &Ctx, token: &str) -> String {
    format!("{}/invite?token={token}", ctx.public_url.trim_end_matches('/'))
}

/// The invitation message: who invites whom to what, the link, and until when it works. The
/// link's token is the message's secret.
fn message(
    tenant: &tenant::Model,
    person: &user::Model,
    channel: Channel,
    address: &str,
    url: &str,
    expires_at: DateTime<Utc>,
) -> NewMessage {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let subject = format!("You are invited to HostGuard by {}", tenant.name);
    let what = format!(
        "{} invites you to HostGuard, which asks for a second factor when you log in to their servers. Your sign-in \
         name is {}.",
        tenant.name, person.email
    );
    let steps = "Open the link, choose a password, and add an authenticator app (such as Microsoft Authenticator or \
                 Google Authenticator) on your phone, or a passkey. Only this link sets up your first sign-in method.";
    let expiry = format!("The link works until {until}, once. If you did not expect this, ignore this message.");
    let (body_text, body_html) = match channel {
        Channel::Email => (
            format!("{what}\n\n{steps}\n\n{url}\n\n{expiry}\n"),
            html_page(
                &subject,
                &[
                    escape_html(&what),
                    escape_html(steps),
                    format!(
                        "<a href=\"{}\" style=\"display:inline-block;background:#0a5fd6;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none\">Accept the invitation</a>",
                        escape_html(url)
                    ),
                    escape_html(&expiry),
                ],
                "You receive this because an administrator of your organisation invited you.",
            ),
        ),
        _ => (format!("[HostGuard] {} invites you to set up your sign-in ({}): {url} Valid until {until}.", tenant.name, person.email), String::new()),
    };
    NewMessage {
        tenant_id: Some(tenant.id),
        channel,
        kind: MessageKind::Invitation,
        recipient: address.to_owned(),
        sender_name: "HostGuard".into(),
        subject,
        body_text,
        body_html,
        secrets: vec![],
    }
}

/// Writes a new invitation of `person` (revoking any older one still open), queues its message
/// and audits it as `action`.
#[allow(clippy::too_many_arguments)]
async fn send_new(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    actor: &Actor,
    tenant: &tenant::Model,
    person: &user::Model,
    via: &Via,
    action: AuditAction,
    now: DateTime<Utc>,
) -> DomainResult<Sent> {
    // An active person's link sets their password: it goes only where they already receive
    // their messages (their email, or the phone they confirmed), never to a number the admin
    // types.
    if let (Some(_), Via::Sms(phone)) = (person.activated_at, via) {
        let confirmed = crate::factors::phones::login_phone(txn, person.id).await?;
        if confirmed.as_ref().map(Phone::as_str) != Some(phone.as_str()) {
            return Err(DomainError::validation(
                "phone",
                format!(
                    "must be the phone {} confirmed: an active person's invitation goes to their email or that \
                     phone",
                    person.email
                ),
            ));
        }
    }
    check_send_limits(txn, person, now).await?;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(Some(now)))
        .filter(invitation::Column::UserId.eq(person.id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    let address = match via {
        Via::Email => person.email.clone(),
        Via::Sms(phone) => phone.as_str().to_owned(),
    };
    let (token, hash) = tokens::new_token();
    let expires_at = now + Duration::hours(VALID_HOURS);
    invitation::Entity::insert(invitation::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.id),
        user_id: Set(person.id),
        channel: Set(via.channel()),
        address: Set(address.clone()),
        token_hash: Set(hash),
        invited_by: Set(actor.label.clone()),
        created_at: Set(now),
        sent_at: Set(now),
        sends: Set(1),
        expires_at: Set(expires_at),
        password_set_at: Set(None),
        accepted_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    let m = message(tenant, person, via.channel(), &address, &link(ctx, &token), expires_at);
    outbox::enqueue(txn, now, NewMessage { secrets: vec![token], ..m }).await?;
    let again = if action == AuditAction::UserInvite && person.activated_at.is_some() { " again" } else { "" };
    audit::record(
        txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant.id),
            action,
            target: person.email.clone(),
            detail: format!(
                "invited{again} by {} to {address}, valid until {}",
                via.channel(),
                expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
        },
    )
    .await?;
    Ok(Sent { user_id: person.id, email: person.email.clone(), channel: via.channel(), address, expires_at })
}

async fn tenant_of<C: ConnectionTrait>(conn: &C, tenant_id: Uuid) -> DomainResult<tenant::Model> {
    tenant::Entity::find_by_id(tenant_id).one(conn).await?.ok_or(DomainError::NotFound("tenant"))
}

/// An open invitation of `person` whose link's token is `token`, chosen by the caller and sent
/// to nobody: the demo's people, whose links the demo prints at start-up. Returns its id.
pub(crate) async fn open_with_known_token<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    person: &user::Model,
    by: &str,
    token: &str,
    now: DateTime<Utc>,
) -> DomainResult<Uuid> {
    let id = Uuid::new_v4();
    invitation::Entity::insert(invitation::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        user_id: Set(person.id),
        channel: Set(Channel::Email),
        address: Set(person.email.clone()),
        token_hash: Set(tokens::hash_token(token)),
        invited_by: Set(by.to_owned()),
        created_at: Set(now),
        sent_at: Set(now),
        sends: Set(0),
        expires_at: Set(now + Duration::hours(VALID_HOURS)),
        password_set_at: Set(None),
        accepted_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Invites a new end user to the caller's tenant: a user who cannot sign in until they accept.
/// An address that is already one of the tenant's end users is invited again instead (as after
/// a lost phone), by email or to their confirmed phone if they are active. One of the tenant's
/// admins is refused; an account in another tenant, or an operator's, is answered as a new
/// invitation without creating or sending anything (see the match below).
pub async fn invite(ctx: &Ctx, caller: &Caller, actor: &Actor, new: &NewPerson) -> DomainResult<Sent> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_key(&txn, &format!("user:{}", new.email.as_str())).await?;
    let tenant = tenant_of(&txn, tenant_id).await?;
    let existing = user::Entity::find().filter(user::Column::Email.eq(new.email.as_str())).one(&txn).await?;
    let person = match existing {
        Some(u) if u.tenant_id == Some(tenant_id) && u.role == Role::EndUser => {
            crate::db::lock_rows::<user::Entity>(&txn, &[u.id]).await?;
            u
        }
        // Another tenant's person or an operator: answered as a new invitation, so an admin
        // cannot learn which addresses have accounts elsewhere. Nothing is created or sent; the
        // operators' trail (not the tenant's) keeps the attempt.
        Some(u) if u.tenant_id != Some(tenant_id) => {
            let address = match &new.via {
                Via::Email => normalize_email(new.email.as_str()),
                Via::Sms(phone) => phone.as_str().to_owned(),
            };
            audit::record(
                &txn,
                now,
                actor,
                Entry {
                    tenant_id: None,
                    action: AuditAction::UserInvite,
                    target: u.email.clone(),
                    detail: format!(
                        "refused: {} of tenant {} tried to invite an address with an account outside it; nothing \
                         was sent and they were answered as for a new invitation",
                        actor.label, tenant.name
                    ),
                },
            )
            .await?;
            txn.commit().await?;
            return Ok(Sent {
                user_id: Uuid::new_v4(),
                email: normalize_email(new.email.as_str()),
                channel: new.via.channel(),
                address,
                expires_at: now + Duration::hours(VALID_HOURS),
            });
        }
        Some(_) => {
            return Err(DomainError::validation(
                "email",
                "already has a HostGuard account that is not one of your users; use another address",
            ))
        }
        None => {
            let row = user::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(Some(tenant_id)),
                email: Set(normalize_email(new.email.as_str())),
                display_name: Set(new.display_name.clone()),
                role: Set(Role::EndUser),
                // No password matches an empty hash: the person chooses one from the link.
                password_hash: Set(String::new()),
                created_at: Set(now),
                activated_at: Set(None),
                locked_at: Set(None),
                last_sign_in_at: Set(None),
            };
            match user::Entity::insert(row).exec_with_returning(&txn).await {
                Ok(u) => u,
                Err(e) if crate::db::is_unique_violation(&e) => {
                    return Err(DomainError::Conflict(format!(
                        "{} was invited at the same moment; reload the list.",
                        new.email
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let sent = send_new(ctx, &txn, actor, &tenant, &person, &new.via, AuditAction::UserInvite, now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(sent)
}

/// Invites end user `user_id` of the caller's tenant again, by email or to a phone: a new link
/// (any older one stops working), as for someone who lost their phone. Their account stays as
/// it is (an active person stays active; remove the lost factor first).
pub async fn invite_again(ctx: &Ctx, caller: &Caller, actor: &Actor, user_id: Uuid, via: &Via) -> DomainResult<Sent> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let person = end_user_in(&txn, tenant_id, user_id).await?;
    if person.locked_at.is_some() {
        return Err(locked_first(&person.email));
    }
    let tenant = tenant_of(&txn, tenant_id).await?;
    let sent = send_new(ctx, &txn, actor, &tenant, &person, via, AuditAction::UserInvite, now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(sent)
}

fn locked_first(email: &str) -> DomainError {
    DomainError::Conflict(format!("{email} is locked. Unlock the account first, then invite them."))
}

/// The user's latest invitation that was neither used nor revoked (it may have expired).
async fn latest_unused<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Option<invitation::Model>> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::UserId.eq(user_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .order_by_desc(invitation::Column::CreatedAt)
        .one(conn)
        .await?)
}

/// Sends end user `user_id`'s invitation again, to the same address, with a new link valid for
/// [`VALID_HOURS`] from now (also after it expired); the old link stops working. At most one
/// message a minute and [`SENDS_PER_DAY`] a day per person.
pub async fn resend(ctx: &Ctx, caller: &Caller, actor: &Actor, user_id: Uuid) -> DomainResult<Sent> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let person = end_user_in(&txn, tenant_id, user_id).await?;
    if person.locked_at.is_some() {
        return Err(locked_first(&person.email));
    }
    let Some(inv) = latest_unused(&txn, person.id).await? else {
        return Err(DomainError::Conflict(format!(
            "{} has no invitation to send again (it was used or revoked). Send a new invitation.",
            person.email
        )));
    };
    check_send_limits(&txn, &person, now).await?;
    let tenant = tenant_of(&txn, tenant_id).await?;
    let (token, hash) = tokens::new_token();
    let expires_at = now + Duration::hours(VALID_HOURS);
    invitation::Entity::update_many()
        .col_expr(invitation::Column::TokenHash, Expr::value(hash))
        .col_expr(invitation::Column::SentAt, Expr::value(now))
        .col_expr(invitation::Column::Sends, Expr::col(invitation::Column::Sends).add(1))
        .col_expr(invitation::Column::ExpiresAt, Expr::value(expires_at))
        // The new link starts over: a password chosen with the old one (which may have leaked,
        // the reason for a resend) must be chosen again.
        .col_expr(invitation::Column::PasswordSetAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(invitation::Column::Id.eq(inv.id))
        .exec(&txn)
        .await?;
    let m = message(&tenant, &person, inv.channel, &inv.address, &link(ctx, &token), expires_at);
    outbox::enqueue(&txn, now, NewMessage { secrets: vec![token], ..m }).await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::UserInviteResend,
            target: person.email.clone(),
            detail: format!(
                "sent again by {} to {} with a new link, valid until {}; the earlier link no longer works",
                inv.channel,
                inv.address,
                expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
        },
    )
    .await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(Sent { user_id: person.id, email: person.email, channel: inv.channel, address: inv.address, expires_at })
}

/// Revokes end user `user_id`'s open invitation: its link stops working at once. Audited.
pub async fn revoke(ctx: &Ctx, caller: &Caller, actor: &Actor, user_id: Uuid) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let person = end_user_in(&txn, tenant_id, user_id).await?;
    let Some(inv) = latest_unused(&txn, person.id).await? else {
        return Err(DomainError::Conflict(format!("{} has no open invitation to revoke.", person.email)));
    };
    invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(Some(now)))
        .filter(invitation::Column::Id.eq(inv.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::UserInviteRevoke,
            target: person.email.clone(),
            detail: format!("the invitation sent by {} to {} no longer works", inv.channel, inv.address),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What an invitation link is for, as its public page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub tenant_name: String,
    pub email: String,
    pub display_name: String,
    pub expires_at: DateTime<Utc>,
    /// The person has chosen a password with this link; the next step is the authenticator.
    pub password_set: bool,
}

/// The invitation and its person behind `token`, if the link can still be used.
async fn by_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    now: DateTime<Utc>,
) -> DomainResult<(invitation::Model, user::Model)> {
    let not_found = || DomainError::NotFound("invitation");
    let token = token.trim();
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    let inv = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(tokens::hash_token(token)))
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    let person = user::Entity::find_by_id(inv.user_id).one(conn).await?.ok_or_else(not_found)?;
    match status_of(&inv, now) {
        InvitationStatus::Accepted => Err(DomainError::Conflict(
            "This invitation has been used: your account is set up. Sign in with your email and password.".into(),
        )),
        InvitationStatus::Revoked => Err(DomainError::Conflict(
            "This invitation no longer works: your administrator withdrew it or sent a newer one. Use the newest \
             invitation you received, or ask your administrator to send one."
                .into(),
        )),
        InvitationStatus::Expired => Err(DomainError::Conflict(format!(
            "This invitation has expired (links work for {VALID_HOURS} hours). Ask your administrator to send it again."
        ))),
        InvitationStatus::Pending if state_of(&person) == UserState::Locked => {
            Err(DomainError::Conflict("This account is locked. Ask your administrator to unlock it.".into()))
        }
        InvitationStatus::Pending => Ok((inv, person)),
    }
}

fn view_of(tenant: tenant::Model, inv: &invitation::Model, person: user::Model) -> LinkView {
    LinkView {
        tenant_name: tenant.name,
        email: person.email,
        display_name: person.display_name,
        expires_at: inv.expires_at,
        password_set: inv.password_set_at.is_some(),
    }
}

/// What the link is for, for the page a GET shows. Reads only.
pub async fn preview(ctx: &Ctx, token: &str) -> DomainResult<LinkView> {
    let (inv, person) = by_token(&ctx.db, token, ctx.clock.now()).await?;
    let tenant = tenant_of(&ctx.db, inv.tenant_id).await?;
    Ok(view_of(tenant, &inv, person))
}

/// The person's caller and the reference their first factor is added under: the invitation
/// itself, which `factors::guard` accepts while the link is open and its password set.
fn person_caller(person: &user::Model) -> DomainResult<Caller> {
    Ok(Caller { user_id: person.id, role: Role::EndUser, tenant_id: person.tenant_id, email: person.email.clone() })
}

/// The link's first step: the person chooses their password (the rules of every new password).
/// They may choose again until the account is active.
pub async fn set_password(ctx: &Ctx, token: &str, new_password: &str, source_ip: &str) -> DomainResult<LinkView> {
    if new_password.len() > MAX_PASSWORD_LEN {
        return Err(DomainError::validation("password", format!("must be at most {MAX_PASSWORD_LEN} bytes long")));
    }
    password::check_new_password(new_password).map_err(|m| DomainError::validation("password", m))?;
    let now = ctx.clock.now();
    let (inv, _) = by_token(&ctx.db, token, now).await?;
    let pw = new_password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&pw))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[inv.user_id]).await?;
    // Still this link, still open: a resend or revoke meanwhile wins.
    let (inv, person) = by_token(&txn, token, now).await?;
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .filter(user::Column::Id.eq(person.id))
        .exec(&txn)
        .await?;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::PasswordSetAt, Expr::value(Some(now)))
        .filter(invitation::Column::Id.eq(inv.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        now,
        &Actor::new(person.email.clone(), source_ip),
        Entry {
            tenant_id: Some(inv.tenant_id),
            action: AuditAction::UserInvitePassword,
            target: person.email.clone(),
            detail: "chose a password from the invitation".into(),
        },
    )
    .await?;
    // An active person's password changed through a link: they hear of it at once.
    if person.activated_at.is_some() {
        let portal_url = format!("{}/portal/methods", ctx.public_url.trim_end_matches('/'));
        let m = crate::messages::factor_changed(&crate::messages::FactorChange {
            tenant_id: inv.tenant_id,
            recipient: &person.email,
            what: "Your password was set from an invitation link".into(),
            by: format!("someone with the invitation link (from {source_ip})"),
            at: now,
            portal_url: &portal_url,
        });
        outbox::enqueue(&txn, now, m).await?;
    }
    txn.commit().await?;
    if person.activated_at.is_some() {
        ctx.outbox_signal.notify_one();
    }
    let tenant = tenant_of(&ctx.db, inv.tenant_id).await?;
    let inv = invitation::Model { password_set_at: Some(now), ..inv };
    Ok(view_of(tenant, &inv, person))
}

/// The link's second step: an authenticator app to add (QR code and secret, shown once).
pub async fn begin_authenticator(ctx: &Ctx, token: &str, name: &str) -> DomainResult<Enrolment> {
    let (inv, person) = past_password(ctx, token).await?;
    authenticators::begin(ctx, &person_caller(&person)?, SessionRef(inv.id), name).await
}

/// The invitation behind `token` and its person, once the link's password is chosen: every
/// step that adds the first factor comes after it.
async fn past_password(ctx: &Ctx, token: &str) -> DomainResult<(invitation::Model, user::Model)> {
    let (inv, person) = by_token(&ctx.db, token, ctx.clock.now()).await?;
    if inv.password_set_at.is_none() {
        return Err(DomainError::Conflict("Choose your password first.".into()));
    }
    Ok((inv, person))
}

/// The account an accepted invitation made active, and the reference for the browser's new
/// portal session: it holds a step-up, since that browser just proved the new factor, so the
/// person may add another (a phone, recovery codes) at once.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub user_id: Uuid,
    pub session: SessionRef,
}

/// After a first factor from the link: the person is signed in, and their new portal session
/// gets a step-up of its own.
async fn accept(ctx: &Ctx, person: &user::Model) -> DomainResult<Accepted> {
    crate::accounts::signed_in(ctx, person.id).await?;
    let session = SessionRef(Uuid::new_v4());
    if let Some(tenant_id) = person.tenant_id {
        let txn = crate::db::write_txn(&ctx.db).await?;
        crate::factors::guard::record(&txn, tenant_id, person.id, Some(session), ctx.clock.now()).await?;
        txn.commit().await?;
    }
    Ok(Accepted { user_id: person.id, session })
}

/// The last step with an app: a code from it confirms it; the invitation is used up and the
/// account active, so the person can sign in (the caller signs them in).
pub async fn confirm_authenticator(
    ctx: &Ctx,
    token: &str,
    id: Uuid,
    code: &str,
    source_ip: &str,
) -> DomainResult<Accepted> {
    let (inv, person) = past_password(ctx, token).await?;
    let actor = Actor::new(person.email.clone(), source_ip);
    authenticators::confirm(ctx, &person_caller(&person)?, &actor, SessionRef(inv.id), id, code).await?;
    accept(ctx, &person).await
}

/// The link's second step with a passkey instead of an app: the options for
/// `navigator.credentials.create`.
pub async fn begin_passkey(ctx: &Ctx, token: &str, name: &str) -> DomainResult<passkeys::Challenge> {
    let (inv, person) = past_password(ctx, token).await?;
    passkeys::register_begin(ctx, &person_caller(&person)?, SessionRef(inv.id), name).await
}

/// The last step with a passkey: the browser's answer to ceremony `ceremony_id` registers it;
/// the invitation is used up and the account active (the caller signs the person in).
pub async fn finish_passkey(
    ctx: &Ctx,
    token: &str,
    ceremony_id: Uuid,
    response: &str,
    source_ip: &str,
) -> DomainResult<Accepted> {
    let (inv, person) = past_password(ctx, token).await?;
    let actor = Actor::new(person.email.clone(), source_ip);
    passkeys::register_finish(ctx, &person_caller(&person)?, &actor, SessionRef(inv.id), ceremony_id, response).await?;
    accept(ctx, &person).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_person_is_parsed_field_by_field() {
        let p = NewPerson::parse(" Dana@Acme.Example ", "", "email", "").unwrap();
        assert_eq!((p.email.as_str(), p.display_name.as_str(), &p.via), ("dana@acme.example", "dana", &Via::Email));
        let p = NewPerson::parse("dana@acme.example", "Dana K", "sms", "+8613800000000").unwrap();
        assert_eq!(p.via, Via::Sms(Phone::parse("+8613800000000").unwrap()));
        let Err(DomainError::Invalid(e)) = NewPerson::parse("nope", "a\nb", "sms", "12") else { panic!("accepted") };
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["email", "display_name", "phone"]);
        let Err(DomainError::Invalid(e)) = NewPerson::parse("a@b.example", "", "fax", "") else { panic!("accepted") };
        assert_eq!(e[0].field, "send_by");
    }

    #[test]
    fn an_invitation_is_pending_until_used_revoked_or_expired() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let base = invitation::Model {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            user_id: Uuid::nil(),
            channel: Channel::Email,
            address: "a@b.example".into(),
            token_hash: String::new(),
            invited_by: String::new(),
            created_at: now,
            sent_at: now,
            sends: 1,
            expires_at: now + Duration::hours(VALID_HOURS),
            password_set_at: None,
            accepted_at: None,
            revoked_at: None,
        };
        assert_eq!(status_of(&base, now), InvitationStatus::Pending);
        assert_eq!(status_of(&base, now + Duration::hours(VALID_HOURS)), InvitationStatus::Expired);
        let revoked = invitation::Model { revoked_at: Some(now), ..base.clone() };
        assert_eq!(status_of(&revoked, now), InvitationStatus::Revoked);
        let used = invitation::Model { accepted_at: Some(now), ..revoked };
        assert_eq!(status_of(&used, now + Duration::days(3)), InvitationStatus::Accepted);
    }

    #[test]
    fn the_message_carries_the_link_and_escapes_names() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let tenant = tenant::Model { id: Uuid::nil(), name: "<Acme>".into(), ..tenant_fixture(now) };
        let person = user::Model {
            id: Uuid::nil(),
            tenant_id: Some(Uuid::nil()),
            email: "dana@acme.example".into(),
            display_name: "Dana".into(),
            role: Role::EndUser,
            password_hash: String::new(),
            created_at: now,
            activated_at: None,
            locked_at: None,
            last_sign_in_at: None,
        };
        let m = message(&tenant, &person, Channel::Email, "dana@acme.example", "https://h/invite?token=T", now);
        assert!(m.body_text.contains("https://h/invite?token=T") && m.body_text.contains("dana@acme.example"));
        assert!(!m.body_html.contains("<Acme>"));
        let sms = message(&tenant, &person, Channel::Sms, "+8613800000000", "https://h/invite?token=T", now);
        assert!(sms.body_text.starts_with("[HostGuard]") && sms.body_html.is_empty());
    }

    fn tenant_fixture(now: DateTime<Utc>) -> tenant::Model {
        tenant::Model { id: Uuid::nil(), name: String::new(), project_id: String::new(), created_at: now }
    }
}
