//! What the 2FA tab sends its server functions: the list's query and a change to a batch of
//! servers. Form-encoded like every server function (`change[server_ids][]=…`), so the
//! dialog and the row buttons are plain forms; a value that cannot be read names its field.

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// One page of the tab. `page` counts from 1; empty filters match everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TwoFactorQuery {
    pub search: String,
    pub status: String,
    pub os_type: String,
    pub method: String,
    pub sort: String,
    pub region: String,
    pub page: u64,
    pub page_size: u64,
}

impl Default for TwoFactorQuery {
    fn default() -> Self {
        TwoFactorQuery {
            search: String::new(),
            status: String::new(),
            os_type: String::new(),
            method: String::new(),
            sort: String::new(),
            region: String::new(),
            page: 1,
            page_size: 10,
        }
    }
}

/// Enable (with a method, and a topic for SMS/Email), Disable or Change Topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ChangeAction {
    Enable,
    Disable,
    ChangeTopic,
}

impl ChangeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Enable => "enable",
            ChangeAction::Disable => "disable",
            ChangeAction::ChangeTopic => "change_topic",
        }
    }
}

impl TryFrom<String> for ChangeAction {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "enable" => Ok(ChangeAction::Enable),
            "disable" => Ok(ChangeAction::Disable),
            "change_topic" => Ok(ChangeAction::ChangeTopic),
            _ => Err("action: must be enable, disable or change_topic".into()),
        }
    }
}

/// How the login code reaches the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum LoginMethod {
    /// SMS/Email: to the endpoints of a topic.
    Sms,
    /// Verification code: from the end user's own factors.
    Code,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Sms => "sms",
            LoginMethod::Code => "code",
        }
    }
}

impl TryFrom<String> for LoginMethod {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "sms" => Ok(LoginMethod::Sms),
            "code" => Ok(LoginMethod::Code),
            _ => Err("method: must be sms (SMS/Email) or code (verification code)".into()),
        }
    }
}

/// A change to the servers in `server_ids`. An empty `method` or `topic_id` is absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorChange {
    #[serde(default, deserialize_with = "server_ids")]
    pub server_ids: Vec<Uuid>,
    pub action: ChangeAction,
    #[serde(default)]
    pub method: Option<LoginMethod>,
    #[serde(default, deserialize_with = "topic_id")]
    pub topic_id: Option<Uuid>,
}

// serde's own errors name neither the field nor the value ("UUID parsing failed").
fn server_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Uuid>, D::Error> {
    use serde::de::Error;
    Vec::<String>::deserialize(d)
        .map_err(|e| D::Error::custom(format!("server_ids: {e} (send server_ids[]=<id> once per server)")))?
        .iter()
        .map(|s| {
            Uuid::parse_str(s.trim()).map_err(|_| D::Error::custom(format!("server_ids: {s:?} is not a server id")))
        })
        .collect()
}

fn topic_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
    use serde::de::Error;
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => Uuid::parse_str(s.trim())
            .map(Some)
            .map_err(|_| D::Error::custom(format!("topic_id: {s:?} is not a topic id"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::two_factor::{CancelTwoFactor, ListTwoFactor, SaveTwoFactor};
    use serde::de::DeserializeOwned;

    const A: &str = "6f1c1d2e-0000-4000-8000-000000000001";
    const B: &str = "6f1c1d2e-0000-4000-8000-000000000002";
    const T: &str = "6f1c1d2e-0000-4000-8000-0000000000ff";

    /// Reads a form body the way server functions do (browsers percent-encode the brackets).
    fn read<T: DeserializeOwned>(body: &str) -> Result<T, String> {
        serde_qs::Config::new(5, false).deserialize_str(body).map_err(|e| e.to_string())
    }

    fn id(s: &str) -> Uuid {
        Uuid::parse_str(s).unwrap()
    }

    #[test]
    fn the_dialogs_form_reads_as_a_change() {
        let body = format!(
            "change%5Baction%5D=enable&change%5Bserver_ids%5D%5B%5D={A}&change%5Bserver_ids%5D%5B%5D={B}\
             &change%5Bmethod%5D=sms&change%5Btopic_id%5D={T}"
        );
        let save: SaveTwoFactor = read(&body).unwrap();
        assert_eq!(
            save.change,
            TwoFactorChange {
                server_ids: vec![id(A), id(B)],
                action: ChangeAction::Enable,
                method: Some(LoginMethod::Sms),
                topic_id: Some(id(T)),
            }
        );
        // Disable sends neither a method nor a topic; empty ones are absent too.
        for body in [
            format!("change[action]=disable&change[server_ids][]={A}"),
            format!("change[action]=disable&change[server_ids][]={A}&change[method]=&change[topic_id]="),
        ] {
            let save: SaveTwoFactor = read(&body).unwrap();
            assert_eq!((save.change.method, save.change.topic_id), (None, None), "{body}");
        }
    }

    #[test]
    fn what_the_browser_client_sends_reads_back_the_same() {
        let change = TwoFactorChange {
            server_ids: vec![id(A), id(B)],
            action: ChangeAction::ChangeTopic,
            method: None,
            topic_id: Some(id(T)),
        };
        let body = serde_qs::to_string(&SaveTwoFactor { change: change.clone() }).unwrap();
        assert_eq!(read::<SaveTwoFactor>(&body).unwrap().change, change);
        let query = TwoFactorQuery { search: "web 01&x".into(), page: 3, page_size: 50, ..Default::default() };
        let body = serde_qs::to_string(&ListTwoFactor { query: query.clone() }).unwrap();
        assert_eq!(read::<ListTwoFactor>(&body).unwrap().query, query);
    }

    #[test]
    fn unreadable_values_name_their_field() {
        let cases = [
            (
                format!("change[action]=enable&change[server_ids][]=not-an-id"),
                "server_ids: \"not-an-id\" is not a server id",
            ),
            (format!("change[action]=enable&change[server_ids]={A}"), "server_ids: "),
            (
                format!("change[action]=explode&change[server_ids][]={A}"),
                "action: must be enable, disable or change_topic",
            ),
            (format!("change[action]=enable&change[method]=voice"), "method: must be sms"),
            (format!("change[action]=change_topic&change[topic_id]=x"), "topic_id: \"x\" is not a topic id"),
        ];
        for (body, expected) in cases {
            let err = read::<SaveTwoFactor>(&body).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn list_and_row_buttons_read_with_defaults() {
        let list: ListTwoFactor = read("query%5Bsearch%5D=web").unwrap();
        assert_eq!(list.query, TwoFactorQuery { search: "web".into(), ..Default::default() });
        assert_eq!((list.query.page, list.query.page_size), (1, 10));
        assert_eq!(read::<ListTwoFactor>("").unwrap().query, TwoFactorQuery::default());
        let cancel: CancelTwoFactor = read(&format!("server_ids%5B%5D={A}")).unwrap();
        assert_eq!(cancel.server_ids, vec![id(A)]);
        assert!(read::<CancelTwoFactor>("").unwrap().server_ids.is_empty(), "the rules say to select one");
    }
}
