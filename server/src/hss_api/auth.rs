//! Who is calling the HSS-compatible API. Two forms of `Authorization` are accepted:
//!
//! - `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>`, exactly as Huawei
//!   Cloud's official SDKs sign a request (see [`canonical_request`]), with `X-Sdk-Date`
//!   (`YYYYMMDDTHHMMSSZ`) signed and within 15 minutes of the server's clock;
//! - `Bearer <AK>.<SK>`, for curl and quick scripts. It sends the secret itself, so use it over
//!   HTTPS only.
//!
//! Either way the project id in the path (and `X-Project-Id`, if sent) must be the project of
//! the key's tenant, and the request then acts as the tenant admin who created the key.

use super::error::ApiError;
use axum::{
    body::{to_bytes, Body},
    extract::{ConnectInfo, Request, State},
    http::HeaderMap,
    middleware::Next,
    response::Response,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::{access_keys, audit::Actor, Caller, Ctx};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
pub const DATE_HEADER: &str = "x-sdk-date";
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const CONTENT_HASH_HEADER: &str = "x-sdk-content-sha256";
/// How far `X-Sdk-Date` may be from the server's clock, either way.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(15);
/// Bodies larger than this are refused before they are read.
const MAX_BODY: usize = 1 << 20;

/// The authenticated caller of one API request, put in the request's extensions.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub caller: Caller,
    pub actor: Actor,
    pub project_id: String,
    /// The request id the response carries (`X-Request-Id`); SMN answers repeat it in the body.
    pub request_id: String,
}

/// Everything except what RFC 3986 calls unreserved, as Python's `quote(s, safe='~')` does.
const SDK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, SDK_ENCODE).to_string()
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The canonical URI: each path segment decoded and re-encoded, and a trailing `/` added when
/// the path has none (the SDK signs `/v2/x/topics/` while it sends `/v2/x/topics`).
pub fn canonical_uri(path: &str) -> String {
    let mut uri = path.split('/').map(|segment| encode(&decode(segment))).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query string: parameters decoded, sorted by name then value, re-encoded.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

pub fn hex_sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical request the SDK signs: method, URI, query, the signed headers as
/// `name:value` lines, the signed header names, and the body's hex SHA-256.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let mut out = format!("{}\n{}\n{}\n", method.to_uppercase(), canonical_uri(path), canonical_query(query));
    for name in signed_headers {
        let value = headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("");
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(&format!("\n{}\n{payload_hash}", signed_headers.join(";")));
    out
}

pub fn string_to_sign(date: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{date}\n{}", hex_sha256(canonical_request.as_bytes()))
}

/// The hex HMAC-SHA256 of the string to sign under the secret key.
pub fn signature(secret: &str, string_to_sign: &str) -> Result<String, ApiError> {
    // HMAC takes keys of any length, so this error cannot happen; it is still an answer, not a panic.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| ApiError::Internal)?;
    mac.update(string_to_sign.as_bytes());
    Ok(hex(&mac.finalize().into_bytes()))
}

/// The parts of an `SDK-HMAC-SHA256` Authorization header.
#[derive(Debug, PartialEq, Eq)]
pub struct SignedAuth {
    pub access: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_signed_auth(value: &str) -> Result<SignedAuth, ApiError> {
    let malformed = || {
        ApiError::MissingAuth(format!(
            "the Authorization header must be `{ALGORITHM} Access=<AK>, SignedHeaders=<names>, Signature=<hex>`"
        ))
    };
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(malformed)?.trim();
    let (mut access, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(malformed)?;
        match k.trim() {
            "Access" => access = Some(v.trim().to_owned()),
            "SignedHeaders" => signed = Some(v.trim().split(';').map(|h| h.trim().to_lowercase()).collect::<Vec<_>>()),
            "Signature" => sig = Some(v.trim().to_lowercase()),
            _ => return Err(malformed()),
        }
    }
    match (access, signed, sig) {
        (Some(access), Some(signed_headers), Some(signature)) if !access.is_empty() => {
            Ok(SignedAuth { access, signed_headers, signature })
        }
        _ => Err(malformed()),
    }
}

/// Checks an `X-Sdk-Date` against the server's clock.
pub fn check_date(value: Option<&str>, now: DateTime<Utc>) -> Result<(), ApiError> {
    let value = value.ok_or_else(|| ApiError::DateSkew("X-Sdk-Date is missing; it must be signed".into()))?;
    let at = NaiveDateTime::parse_from_str(value, DATE_FORMAT)
        .map_err(|_| ApiError::DateSkew(format!("X-Sdk-Date {value:?} is not in the form YYYYMMDDTHHMMSSZ (UTC)")))?
        .and_utc();
    if (now - at).abs() > MAX_SKEW {
        return Err(ApiError::DateSkew(format!(
            "X-Sdk-Date {value} is more than 15 minutes from the server's time {}; check this machine's clock",
            now.format(DATE_FORMAT)
        )));
    }
    Ok(())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Equal-time comparison, so a guessed signature learns nothing from the response time.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The project id named by an API path: `/v2/{project_id}/...` or `/v5/{project_id}/...`.
fn path_project(path: &str) -> Option<String> {
    path.split('/').nth(2).map(decode)
}

/// Middleware: authenticates the request, or answers with the reason it is refused.
pub async fn authenticate(State(ctx): State<Ctx>, request: Request, next: Next) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY).await.map_err(|_| ApiError::TooLarge(MAX_BODY))?;
    let authorization = header(&parts.headers, "authorization")
        .ok_or_else(|| {
            ApiError::MissingAuth(format!(
                "the Authorization header is missing: sign the request ({ALGORITHM}) or send `Bearer <AK>.<SK>`"
            ))
        })?
        .to_owned();

    let holder = if let Some(token) = authorization.strip_prefix("Bearer ") {
        let (ak, sk) = token
            .trim()
            .split_once('.')
            .ok_or_else(|| ApiError::MissingAuth("a bearer token must be `<AK>.<SK>`".into()))?;
        let holder = access_keys::authenticate(&ctx, ak).await?;
        if !same(holder.secret.expose_secret().as_bytes(), sk.as_bytes()) {
            return Err(ApiError::BadSignature(format!("the secret key does not match access key {ak}")));
        }
        holder
    } else {
        let auth = parse_signed_auth(&authorization)?;
        if !auth.signed_headers.iter().any(|h| h == DATE_HEADER) {
            return Err(ApiError::BadSignature("X-Sdk-Date must be one of the signed headers".into()));
        }
        check_date(header(&parts.headers, DATE_HEADER), ctx.clock.now())?;
        let holder = access_keys::authenticate(&ctx, &auth.access).await?;
        let payload_hash = hex_sha256(&body);
        if let Some(claimed) = header(&parts.headers, CONTENT_HASH_HEADER) {
            // The SDK puts UNSIGNED-PAYLOAD here for bodies that are not JSON; this API reads
            // only JSON, so every body must be covered by the signature.
            if !claimed.eq_ignore_ascii_case(&payload_hash) {
                return Err(ApiError::BadSignature(format!("{CONTENT_HASH_HEADER} must be the body's SHA-256")));
            }
        }
        let mut headers = vec![];
        for name in &auth.signed_headers {
            let value = parts
                .headers
                .get(name.as_str())
                .ok_or_else(|| ApiError::BadSignature(format!("the signed header {name} is not in the request")))?;
            headers.push((name.clone(), String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
        let canonical = canonical_request(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            &headers,
            &auth.signed_headers,
            &payload_hash,
        );
        let date = header(&parts.headers, DATE_HEADER).unwrap_or_default();
        let expected = signature(holder.secret.expose_secret(), &string_to_sign(date, &canonical))?;
        if !same(expected.as_bytes(), auth.signature.as_bytes()) {
            return Err(ApiError::BadSignature(format!(
                "the request signature does not match: check the secret key of {} and that the request is sent as signed",
                auth.access
            )));
        }
        holder
    };

    let path_project = path_project(parts.uri.path()).unwrap_or_default();
    if path_project != holder.project_id {
        return Err(ApiError::ProjectMismatch(format!(
            "project {path_project} in the path is not the project of access key {}",
            holder.key.access_key
        )));
    }
    if let Some(sent) = header(&parts.headers, "x-project-id") {
        if sent != holder.project_id {
            return Err(ApiError::ProjectMismatch(format!(
                "X-Project-Id {sent} is not the project of access key {}",
                holder.key.access_key
            )));
        }
    }

    if let Err(e) = access_keys::record_use(&ctx, &holder.key).await {
        tracing::warn!(error = %e, "cannot note the last use of an access key");
    }
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let request_id = header(&parts.headers, "x-request-id")
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    parts.extensions.insert(ApiCaller {
        actor: Actor::new(format!("{} (access key {})", holder.caller.email, holder.key.access_key), source_ip),
        caller: holder.caller,
        project_id: holder.project_id,
        request_id,
    });
    Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "0123456789abcdef0123456789abcdef";
    const SK: &str = "SKexample0123456789abcdefghijklmnopqrstu";

    /// Computed by huaweicloudsdkcore 3.1.219's `Signer` for the same request.
    #[test]
    fn matches_the_python_sdk_for_a_get_with_an_encoded_path_and_query() {
        let path = format!("/v2/{PROJECT}/notifications/topics/urn%3Asmn%3Aregion%3Ap%3Aname/subscriptions");
        let query = "fuzzy_remark=a%20b%2Fc~%2A&limit=10&offset=0";
        let headers: Vec<(String, String)> = [
            ("content-type", "application/json"),
            ("host", "127.0.0.1:3000"),
            ("user-agent", "huaweicloud-usdk-python/3.0"),
            ("x-project-id", PROJECT),
            ("x-sdk-date", "20261123T130000Z"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let canonical = canonical_request("GET", &path, query, &headers, &signed, &hex_sha256(b""));
        assert_eq!(
            canonical,
            format!(
                "GET\n/v2/{PROJECT}/notifications/topics/urn%3Asmn%3Aregion%3Ap%3Aname/subscriptions/\n\
                 fuzzy_remark=a%20b%2Fc~%2A&limit=10&offset=0\ncontent-type:application/json\nhost:127.0.0.1:3000\n\
                 user-agent:huaweicloud-usdk-python/3.0\nx-project-id:{PROJECT}\nx-sdk-date:20261123T130000Z\n\n\
                 content-type;host;user-agent;x-project-id;x-sdk-date\n\
                 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )
        );
        assert_eq!(
            signature(SK, &string_to_sign("20261123T130000Z", &canonical)).unwrap(),
            "a823eec7f9be2b70f6f1319073ba6f7a9b8fa357385bae0bffdd92bc88b681e2"
        );
    }

    #[test]
    fn matches_the_python_sdk_for_a_post_with_a_json_body() {
        let path = format!("/v2/{PROJECT}/notifications/topics");
        let headers: Vec<(String, String)> = [
            ("content-type", "application/json;charset=UTF-8"),
            ("host", "127.0.0.1:3000"),
            ("x-sdk-date", "20261123T130000Z"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let body = br#"{"name":"t1","display_name":"T"}"#;
        let canonical = canonical_request("post", &path, "", &headers, &signed, &hex_sha256(body));
        assert_eq!(
            signature(SK, &string_to_sign("20261123T130000Z", &canonical)).unwrap(),
            "187a4c2ec4ebf4dd11a5882537cb74d14ad8238898e6a9919cbb8546e35a834b"
        );
    }

    #[test]
    fn canonical_uri_adds_one_trailing_slash_and_normalises_encoding() {
        assert_eq!(canonical_uri("/v5/p/setting/two-factor-login/hosts"), "/v5/p/setting/two-factor-login/hosts/");
        assert_eq!(canonical_uri("/v5/p/"), "/v5/p/");
        assert_eq!(canonical_uri("/a/urn:smn:x"), "/a/urn%3Asmn%3Ax/");
        assert_eq!(canonical_uri("/a/b%20c~d"), "/a/b%20c~d/");
    }

    #[test]
    fn canonical_query_sorts_by_name_then_value_and_encodes_like_python_quote() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=z&a=y"), "a=y&a=z&b=2");
        assert_eq!(canonical_query("flag"), "flag=");
        assert_eq!(canonical_query("q=a%2fb*c"), "q=a%2Fb%2Ac");
        assert_eq!(canonical_query("name=%E4%B8%AD"), "name=%E4%B8%AD");
    }

    #[test]
    fn parses_the_authorization_header() {
        let a = parse_signed_auth("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=ABC").unwrap();
        assert_eq!(
            a,
            SignedAuth {
                access: "AK1".into(),
                signed_headers: vec!["host".into(), "x-sdk-date".into()],
                signature: "abc".into()
            }
        );
        assert!(parse_signed_auth("SDK-HMAC-SHA256 Access=AK1").is_err());
        assert!(parse_signed_auth("AWS4-HMAC-SHA256 Credential=x").is_err());
    }

    #[test]
    fn dates_more_than_15_minutes_off_are_refused() {
        let now = NaiveDateTime::parse_from_str("20261123T130000Z", DATE_FORMAT).unwrap().and_utc();
        assert!(check_date(Some("20261123T131500Z"), now).is_ok());
        assert!(check_date(Some("20261123T124500Z"), now).is_ok());
        assert!(matches!(check_date(Some("20261123T131501Z"), now), Err(ApiError::DateSkew(_))));
        assert!(matches!(check_date(Some("20261123T124459Z"), now), Err(ApiError::DateSkew(_))));
        assert!(matches!(check_date(Some("2026-11-23T13:00:00Z"), now), Err(ApiError::DateSkew(_))));
        assert!(matches!(check_date(None, now), Err(ApiError::DateSkew(_))));
    }

    #[test]
    fn the_project_is_the_second_path_segment() {
        assert_eq!(path_project("/v5/abc/setting/x").as_deref(), Some("abc"));
        assert_eq!(path_project("/v2/abc").as_deref(), Some("abc"));
    }
}
