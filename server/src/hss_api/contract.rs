//! The HSS-compatible API's bodies, field for field as Huawei Cloud names them: what a request
//! may send and what each answer carries. The official SDKs read these names, so a field
//! renamed here is a break for them; the tests below pin each answer's bytes.
//!
//! The answers' fields are declared in alphabetical order: the API answered with `json!`
//! objects, whose keys serde_json sorts, and the bytes stay as they were.

use super::error::ApiError;
use axum::body::Bytes;
use domain::rollout::Method;
use serde::{
    de::{self, DeserializeOwned, SeqAccess, Visitor},
    Deserialize, Deserializer, Serialize,
};
use serde_json::Value;
use std::fmt;

// ---- reading requests ----

/// A JSON object body as `T`. A value of the wrong type is refused naming its field
/// (`host_id_list[2]: must be a string`); serde's own messages name neither.
pub fn read<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Err(ApiError::bad_request("body", "must be a JSON object")),
        Err(e) => return Err(ApiError::bad_request("body", format!("is not valid JSON: {e}"))),
    };
    // From a `Value`, serde_json's errors carry no line and column: the message is the rule.
    serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::bad_request(e.path().to_string(), e.into_inner().to_string()))
}

/// A field the request must send (`null` counts as not sent).
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::bad_request(field, "is required"))
}

/// A JSON string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Text(s)),
            _ => Err(de::Error::custom("must be a string")),
        }
    }
}

/// A JSON `true` or `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Flag(b)),
            _ => Err(de::Error::custom("must be true or false")),
        }
    }
}

/// A JSON list of strings; an item that is not one is refused by its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextList(pub Vec<String>);

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items;
        const RULE: &str = "must be a list of strings";
        impl<'de> Visitor<'de> for Items {
            type Value = TextList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextList, A::Error> {
                let mut items = vec![];
                while let Some(Text(s)) = seq.next_element::<Text>()? {
                    items.push(s);
                }
                Ok(TextList(items))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<TextList, E> {
                Err(E::custom(RULE))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TextList, E> {
                Err(E::custom(RULE))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TextList, E> {
                Err(E::custom(RULE))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TextList, E> {
                Err(E::custom(RULE))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<TextList, E> {
                Err(E::custom(RULE))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TextList, E> {
                Err(E::custom(RULE))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<TextList, A::Error> {
                Err(de::Error::custom(RULE))
            }
        }
        d.deserialize_any(Items)
    }
}

// ---- SMN v2 ----

/// CreateTopic's body.
#[derive(Debug, Deserialize)]
pub struct CreateTopicRequest {
    #[serde(default)]
    pub name: Option<Text>,
    #[serde(default)]
    pub display_name: Option<Text>,
}

/// AddSubscription's body.
#[derive(Debug, Deserialize)]
pub struct AddSubscriptionRequest {
    #[serde(default)]
    pub protocol: Option<Text>,
    #[serde(default)]
    pub endpoint: Option<Text>,
    #[serde(default)]
    pub remark: Option<Text>,
}

/// An answer that only repeats the request id (DeleteTopic, CancelSubscription).
#[derive(Debug, Serialize)]
pub struct RequestIdResponse {
    pub request_id: String,
}

#[derive(Debug, Serialize)]
pub struct CreateTopicResponse {
    pub request_id: String,
    pub topic_urn: String,
}

#[derive(Debug, Serialize)]
pub struct ListTopicsResponse {
    pub request_id: String,
    pub topic_count: u64,
    pub topics: Vec<TopicItem>,
}

#[derive(Debug, Serialize)]
pub struct TopicItem {
    pub create_time: String,
    pub display_name: String,
    /// HostGuard has no enterprise projects: always `"0"`, the default project.
    pub enterprise_project_id: &'static str,
    pub name: String,
    /// SMN's message push policy; HostGuard has one: 0.
    pub push_policy: i64,
    pub topic_id: String,
    pub topic_urn: String,
    pub update_time: String,
}

#[derive(Debug, Serialize)]
pub struct AddSubscriptionResponse {
    pub request_id: String,
    pub subscription_urn: String,
}

/// ListSubscriptionsByTopic and ListSubscriptions.
#[derive(Debug, Serialize)]
pub struct ListSubscriptionsResponse {
    pub request_id: String,
    pub subscription_count: u64,
    pub subscriptions: Vec<SubscriptionItem>,
}

#[derive(Debug, Serialize)]
pub struct SubscriptionItem {
    pub endpoint: String,
    /// The project that owns the topic.
    pub owner: String,
    pub protocol: proto::Protocol,
    pub remark: String,
    /// SMN's numbers: 0 unconfirmed, 1 confirmed, 3 canceled.
    pub status: i64,
    pub subscription_urn: String,
    pub topic_urn: String,
}

// ---- HSS v5 ----

/// SetTwoFactorLoginConfig's body.
#[derive(Debug, Deserialize)]
pub struct SetTwoFactorLoginConfigRequest {
    #[serde(default)]
    pub enabled: Option<Flag>,
    /// `sms` or `code`; read by the handler, since an unknown one is a 422, not a 400.
    #[serde(default)]
    pub auth_type: Option<Text>,
    #[serde(default)]
    pub topic_urn: Option<Text>,
    /// Sent by HSS for its console, and ignored: the URN alone names the topic.
    #[serde(default)]
    pub topic_display_name: Option<Text>,
    #[serde(default)]
    pub host_id_list: Option<TextList>,
}

#[derive(Debug, Serialize)]
pub struct ListTwoFactorLoginHostResponse {
    pub data_list: Vec<TwoFactorLoginHost>,
    pub total_num: u64,
}

#[derive(Debug, Serialize)]
pub struct TwoFactorLoginHost {
    pub auth_switch: bool,
    pub auth_type: Option<Method>,
    pub host_id: String,
    pub host_name: String,
    /// `Linux` or `Windows`.
    pub os_type: &'static str,
    pub outside_host: bool,
    pub topic_display_name: Option<String>,
    pub topic_urn: Option<String>,
}

/// HSS answers with an empty body; the fields say what HostGuard did, and SDKs ignore them.
#[derive(Debug, Serialize)]
pub struct SetTwoFactorLoginConfigResponse {
    /// When the saved changes apply (`2026-12-05T10:00:00Z`); `null` when nothing was saved.
    pub apply_at: Option<String>,
    pub refused: Vec<RefusedHost>,
    pub request_id: String,
    pub saved: Vec<SavedHost>,
    pub unchanged: Vec<UnchangedHost>,
}

#[derive(Debug, Serialize)]
pub struct SavedHost {
    pub host_id: String,
    pub revision: i64,
}

#[derive(Debug, Serialize)]
pub struct RefusedHost {
    pub host_id: String,
    pub host_name: String,
    /// Each names the host, as in a list of many (`web-01: the agent is offline.`).
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UnchangedHost {
    pub host_id: String,
    pub host_name: String,
    pub reason: String,
}

// ---- errors ----

/// Huawei Cloud's error shape, which the official SDKs read into their exceptions.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error_code: &'static str,
    pub error_msg: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: Serialize>(t: &T) -> String {
        serde_json::to_string(t).unwrap()
    }

    fn refusal<T: DeserializeOwned + fmt::Debug>(body: &str) -> String {
        match read::<T>(&Bytes::from(body.to_owned())) {
            Err(ApiError::BadRequest { field, message }) => format!("{field}: {message}"),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn hss_answers_keep_their_bytes() {
        let hosts = ListTwoFactorLoginHostResponse {
            data_list: vec![TwoFactorLoginHost {
                auth_switch: true,
                auth_type: Some(Method::Sms),
                host_id: "h1".into(),
                host_name: "web-01".into(),
                os_type: "Linux",
                outside_host: false,
                topic_display_name: Some("Codes".into()),
                topic_urn: Some("urn:smn:r:p:codes".into()),
            }],
            total_num: 1,
        };
        assert_eq!(
            json(&hosts),
            r#"{"data_list":[{"auth_switch":true,"auth_type":"sms","host_id":"h1","host_name":"web-01","os_type":"Linux","outside_host":false,"topic_display_name":"Codes","topic_urn":"urn:smn:r:p:codes"}],"total_num":1}"#
        );
        let set = SetTwoFactorLoginConfigResponse {
            apply_at: None,
            refused: vec![RefusedHost {
                host_id: "h2".into(),
                host_name: "db-02".into(),
                reasons: vec!["db-02: server protection is off.".into()],
            }],
            request_id: "r".into(),
            saved: vec![SavedHost { host_id: "h1".into(), revision: 3 }],
            unchanged: vec![UnchangedHost {
                host_id: "h3".into(),
                host_name: "app-03".into(),
                reason: "already has 2FA off; nothing to change".into(),
            }],
        };
        assert_eq!(
            json(&set),
            r#"{"apply_at":null,"refused":[{"host_id":"h2","host_name":"db-02","reasons":["db-02: server protection is off."]}],"request_id":"r","saved":[{"host_id":"h1","revision":3}],"unchanged":[{"host_id":"h3","host_name":"app-03","reason":"already has 2FA off; nothing to change"}]}"#
        );
    }

    #[test]
    fn smn_answers_keep_their_bytes() {
        let topics = ListTopicsResponse {
            request_id: "r".into(),
            topic_count: 1,
            topics: vec![TopicItem {
                create_time: "2026-12-05T10:00:00Z".into(),
                display_name: "Codes".into(),
                enterprise_project_id: "0",
                name: "codes".into(),
                push_policy: 0,
                topic_id: "abc".into(),
                topic_urn: "urn:smn:r:p:codes".into(),
                update_time: "2026-12-05T10:00:00Z".into(),
            }],
        };
        assert_eq!(
            json(&topics),
            r#"{"request_id":"r","topic_count":1,"topics":[{"create_time":"2026-12-05T10:00:00Z","display_name":"Codes","enterprise_project_id":"0","name":"codes","push_policy":0,"topic_id":"abc","topic_urn":"urn:smn:r:p:codes","update_time":"2026-12-05T10:00:00Z"}]}"#
        );
        let subs = ListSubscriptionsResponse {
            request_id: "r".into(),
            subscription_count: 1,
            subscriptions: vec![SubscriptionItem {
                endpoint: "ops@acme.example".into(),
                owner: "p".into(),
                protocol: proto::Protocol::Email,
                remark: "ops".into(),
                status: 1,
                subscription_urn: "urn:smn:r:p:codes:s1".into(),
                topic_urn: "urn:smn:r:p:codes".into(),
            }],
        };
        assert_eq!(
            json(&subs),
            r#"{"request_id":"r","subscription_count":1,"subscriptions":[{"endpoint":"ops@acme.example","owner":"p","protocol":"email","remark":"ops","status":1,"subscription_urn":"urn:smn:r:p:codes:s1","topic_urn":"urn:smn:r:p:codes"}]}"#
        );
        assert_eq!(
            json(&CreateTopicResponse { request_id: "r".into(), topic_urn: "u".into() }),
            r#"{"request_id":"r","topic_urn":"u"}"#
        );
        assert_eq!(
            json(&AddSubscriptionResponse { request_id: "r".into(), subscription_urn: "u".into() }),
            r#"{"request_id":"r","subscription_urn":"u"}"#
        );
        assert_eq!(json(&RequestIdResponse { request_id: "r".into() }), r#"{"request_id":"r"}"#);
        assert_eq!(
            json(&ErrorBody { error_code: "HG.REQUEST.INVALID", error_msg: "m".into() }),
            r#"{"error_code":"HG.REQUEST.INVALID","error_msg":"m"}"#
        );
    }

    #[test]
    fn a_request_of_the_wrong_shape_is_refused_naming_the_field() {
        type Set = SetTwoFactorLoginConfigRequest;
        assert_eq!(refusal::<Set>("[1]"), "body: must be a JSON object");
        assert!(refusal::<Set>("{").starts_with("body: is not valid JSON: "));
        assert_eq!(refusal::<Set>(r#"{"enabled":"yes"}"#), "enabled: must be true or false");
        assert_eq!(refusal::<Set>(r#"{"topic_urn":5}"#), "topic_urn: must be a string");
        assert_eq!(refusal::<Set>(r#"{"host_id_list":"h1"}"#), "host_id_list: must be a list of strings");
        assert_eq!(refusal::<Set>(r#"{"host_id_list":["h1",7]}"#), "host_id_list[1]: must be a string");
        assert_eq!(refusal::<CreateTopicRequest>(r#"{"display_name":["x"]}"#), "display_name: must be a string");

        // `null` is as good as absent, and fields HostGuard does not know are ignored.
        let ok: Set =
            read(&Bytes::from_static(br#"{"enabled":true,"auth_type":null,"host_id_list":["h1"],"x":1}"#)).unwrap();
        assert_eq!(ok.enabled, Some(Flag(true)));
        assert_eq!(ok.auth_type, None);
        assert_eq!(ok.host_id_list, Some(TextList(vec!["h1".into()])));
        assert!(matches!(required("enabled", None::<Flag>), Err(ApiError::BadRequest { .. })));
    }
}
