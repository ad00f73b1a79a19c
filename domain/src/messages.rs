//! The texts of the messages HostGuard sends, in plain text and HTML.

use crate::outbox::{Channel, MessageKind, NewMessage};
use uuid::Uuid;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn html_page(title: &str, paragraphs: &[String], footer: &str) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p style=\"margin:0 0 12px\">{p}</p>")).collect();
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1f2633;line-height:1.5\">\
         <div style=\"max-width:560px;margin:24px auto\">{body}\
         <p style=\"margin:24px 0 0;color:#6b7486;font-size:13px\">{footer}</p></div></body></html>",
        escape_html(title)
    )
}

pub struct TopicInfo<'a> {
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub display_name: &'a str,
}

impl TopicInfo<'_> {
    fn sender(&self) -> String {
        if self.display_name.is_empty() {
            self.name.to_owned()
        } else {
            self.display_name.to_owned()
        }
    }
}

/// "Please confirm" for a new subscription, with the confirmation and unsubscribe links.
pub fn confirmation(
    topic: &TopicInfo,
    channel: Channel,
    recipient: &str,
    confirm_url: &str,
    unsubscribe_url: &str,
) -> NewMessage {
    let sender = topic.sender();
    let subject = format!("Confirm your subscription to {sender}");
    let text = format!(
        "You have been subscribed to the notification topic \"{}\" ({}). It sends login verification codes \
         for servers protected by HostGuard.\n\nTo receive its messages, confirm within 48 hours:\n{confirm_url}\n\n\
         If you did not expect this, ignore this message; nothing will be sent to you. \
         To stop messages from this topic at any time: {unsubscribe_url}\n",
        topic.name, sender
    );
    let html = html_page(
        &subject,
        &[
            format!(
                "You have been subscribed to the notification topic <b>{}</b> ({}). It sends login verification codes for servers protected by HostGuard.",
                escape_html(topic.name),
                escape_html(&sender)
            ),
            format!(
                "<a href=\"{}\" style=\"display:inline-block;background:#0a5fd6;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none\">Confirm subscription</a>",
                escape_html(confirm_url)
            ),
            "The link is valid for 48 hours. If you did not expect this, ignore this message; nothing will be sent to you.".into(),
        ],
        &format!("To stop messages from this topic: <a href=\"{0}\">unsubscribe</a>.", escape_html(unsubscribe_url)),
    );
    let body_text = match channel {
        Channel::Email => text,
        // SMS is short: the links and one line.
        _ => format!("[{sender}] Confirm your subscription to receive HostGuard login codes: {confirm_url} Stop: {unsubscribe_url}"),
    };
    NewMessage {
        tenant_id: Some(topic.tenant_id),
        channel,
        kind: MessageKind::SubscriptionConfirmation,
        recipient: recipient.to_owned(),
        sender_name: sender,
        subject,
        body_text,
        body_html: if channel == Channel::Email { html } else { String::new() },
        secrets: vec![],
    }
}

/// A message published to a topic, to one confirmed endpoint.
pub fn topic_message(
    topic: &TopicInfo,
    channel: Channel,
    recipient: &str,
    subject: &str,
    message: &str,
    unsubscribe_url: &str,
) -> NewMessage {
    let sender = topic.sender();
    let (body_text, body_html) = match channel {
        Channel::Email => (
            format!(
                "{message}\n\n--\nSent by the notification topic \"{}\". Unsubscribe: {unsubscribe_url}\n",
                topic.name
            ),
            html_page(
                subject,
                &message.split('\n').map(escape_html).collect::<Vec<_>>(),
                &format!(
                    "Sent by the notification topic {}. <a href=\"{}\">Unsubscribe</a>.",
                    escape_html(topic.name),
                    escape_html(unsubscribe_url)
                ),
            ),
        ),
        _ => (format!("[{sender}] {message} Stop: {unsubscribe_url}"), String::new()),
    };
    NewMessage {
        tenant_id: Some(topic.tenant_id),
        channel,
        kind: MessageKind::TopicMessage,
        recipient: recipient.to_owned(),
        sender_name: sender,
        subject: subject.to_owned(),
        body_text,
        body_html,
        secrets: vec![],
    }
}

/// What a login is, as a code message describes it.
pub struct LoginInfo<'a> {
    pub number: i32,
    pub account: &'a str,
    pub server_name: &'a str,
    pub source_ip: &'a str,
    pub valid_minutes: i64,
}

/// A login verification code, sent through a topic to one of its confirmed endpoints. The code
/// is a secret of the message: the caller lists it in `secrets`.
pub fn login_code(
    topic: &TopicInfo,
    channel: Channel,
    recipient: &str,
    login: &LoginInfo,
    code: &str,
    unsubscribe_url: &str,
) -> NewMessage {
    let sender = topic.sender();
    let LoginInfo { number, account, server_name, source_ip, valid_minutes } = login;
    let from = if source_ip.is_empty() { String::new() } else { format!(" from {source_ip}") };
    let subject = format!("Login code #{number} for {account}@{server_name}");
    let what = format!(
        "Input #{number}: {code} is the verification code for the login to {account} on {server_name}{from}. \
         It is valid for {valid_minutes} minutes and works once."
    );
    let warning = "If you are not logging in, someone else knows this account's password: do not share the code, \
                   and tell your administrator.";
    let (body_text, body_html) = match channel {
        Channel::Email => (
            format!("{what}\n\n{warning}\n\n--\nSent by the notification topic \"{}\". Unsubscribe: {unsubscribe_url}\n", topic.name),
            html_page(
                &subject,
                &[escape_html(&what), escape_html(warning)],
                &format!(
                    "Sent by the notification topic {}. <a href=\"{}\">Unsubscribe</a>.",
                    escape_html(topic.name),
                    escape_html(unsubscribe_url)
                ),
            ),
        ),
        _ => (
            format!("[{sender}] #{number} code {code}: login to {account}@{server_name}{from}, valid {valid_minutes} min. Stop: {unsubscribe_url}"),
            String::new(),
        ),
    };
    NewMessage {
        tenant_id: Some(topic.tenant_id),
        channel,
        kind: MessageKind::LoginCode,
        recipient: recipient.to_owned(),
        sender_name: sender,
        subject,
        body_text,
        body_html,
        secrets: vec![],
    }
}

/// To a tenant admin: an unsubscribe left a topic that servers use for 2FA login codes with no
/// confirmed endpoint, so nobody receives their codes.
pub fn topic_without_recipients(
    tenant_id: Uuid,
    admin_email: &str,
    topic_name: &str,
    servers: &[String],
    console_url: &str,
) -> NewMessage {
    let subject = format!("Nobody receives the login codes of topic {topic_name}");
    let shown = servers.iter().take(20).cloned().collect::<Vec<_>>().join(", ");
    let more = if servers.len() > 20 { format!(" and {} more", servers.len() - 20) } else { String::new() };
    let what = format!(
        "The last confirmed endpoint of the notification topic \"{topic_name}\" unsubscribed. The topic is the \
         two-factor authentication topic of {shown}{more}, so nobody receives their login codes and logins by \
         SMS/Email codes to them fail."
    );
    let fix = "Add an endpoint to the topic and have it confirmed, or change those servers' topic or method.";
    let text = format!("{what}\n\n{fix}\n\n{console_url}\n");
    let html = html_page(
        &subject,
        &[escape_html(&what), escape_html(fix), format!("<a href=\"{0}\">{0}</a>", escape_html(console_url))],
        "You receive this as an administrator of the tenant.",
    );
    NewMessage {
        tenant_id: Some(tenant_id),
        channel: Channel::Email,
        kind: MessageKind::TopicWithoutRecipients,
        recipient: admin_email.to_owned(),
        sender_name: "HostGuard".into(),
        subject,
        body_text: text,
        body_html: html,
        secrets: vec![],
    }
}

/// A change to an end user's sign-in methods, as its mail names it.
pub struct FactorChange<'a> {
    pub tenant_id: Uuid,
    pub recipient: &'a str,
    /// What changed, as a sentence's subject: `The authenticator app "Pixel" was added`.
    pub what: String,
    /// Who made it and from where: `you (signed in from 192.0.2.1)` or `your administrator …`.
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `…/portal/methods`.
    pub portal_url: &'a str,
}

/// To an end user: one of their sign-in methods changed, and what to do if it was not them.
/// Sent for every change, so someone who learnt their password cannot quietly add their own.
pub fn factor_changed(c: &FactorChange) -> NewMessage {
    let when = c.at.format("%Y-%m-%d %H:%M UTC");
    let mut chars = c.what.chars();
    let lowered: String = chars.next().map(|f| f.to_lowercase().chain(chars).collect()).unwrap_or_default();
    let subject = format!("Your HostGuard sign-in methods changed: {lowered}");
    let what = format!("{}.\n\nWhen: {when}\nBy: {}\nAccount: {}", c.what, c.by, c.recipient);
    let check = format!("See your sign-in methods at {}.", c.portal_url);
    let report = "If this wasn't you, contact your administrator at once: someone may know your password and be \
                  able to log in to your organisation's servers as you. Change your password, and ask them to \
                  check your sign-in methods.";
    let text = format!("{what}\n\n{report}\n\n{check}\n");
    let html = html_page(
        &subject,
        &[
            what.split('\n').filter(|l| !l.is_empty()).map(escape_html).collect::<Vec<_>>().join("<br>"),
            format!("<b>{}</b>", escape_html(report)),
            format!("See your sign-in methods: <a href=\"{0}\">{0}</a>", escape_html(c.portal_url)),
        ],
        "You receive this for every change to your sign-in methods; it cannot be turned off.",
    );
    NewMessage {
        tenant_id: Some(c.tenant_id),
        channel: Channel::Email,
        kind: MessageKind::FactorChanged,
        recipient: c.recipient.to_owned(),
        sender_name: "HostGuard".into(),
        subject,
        body_text: text,
        body_html: html,
        secrets: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let t = TopicInfo { tenant_id: Uuid::nil(), name: "codes", display_name: "<script>" };
        let m = confirmation(&t, Channel::Email, "a@b.example", "https://h/c?token=1&x=2", "https://h/u?token=2");
        assert!(!m.body_html.contains("<script>"));
        assert!(m.body_html.contains("https://h/c?token=1&amp;x=2"));
        assert!(m.body_text.contains("https://h/c?token=1&x=2"));
        assert!(m.body_text.contains("https://h/u?token=2"), "every message carries its unsubscribe link");
    }

    #[test]
    fn a_factor_change_says_what_when_and_how_to_report_it() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let m = factor_changed(&FactorChange {
            tenant_id: Uuid::nil(),
            recipient: "alice@acme.example",
            what: "The authenticator app \"<b>Pixel</b>\" was added".into(),
            by: "you (signed in from 192.0.2.1)".into(),
            at,
            portal_url: "https://h/portal/methods",
        });
        assert_eq!(
            m.subject,
            "Your HostGuard sign-in methods changed: the authenticator app \"<b>Pixel</b>\" was added"
        );
        assert!(
            m.body_text.contains(
                "When: 2027-01-15 08:00 UTC\nBy: you (signed in from 192.0.2.1)\nAccount: alice@acme.example"
            ),
            "{}",
            m.body_text
        );
        assert!(m.body_text.contains("If this wasn't you, contact your administrator"));
        assert!(m.body_text.contains("https://h/portal/methods"));
        assert!(!m.body_html.contains("<b>Pixel</b>"), "names are escaped");
    }
}
