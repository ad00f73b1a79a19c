//! The server's configuration: defaults, then an optional TOML file (`HOSTGUARD_CONFIG`), then
//! `HOSTGUARD_*` environment variables. Everything is checked at start-up; a bad value stops
//! the server with one line naming the setting and the rule.
//!
//! A file uses the variable names without the prefix, in lower case:
//! `HOSTGUARD_APPLY_DELAY_SECS=30` and `apply_delay_secs = 30` mean the same.

use domain::ctx::SessionPolicy;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

pub const ENV_PREFIX: &str = "HOSTGUARD_";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    None,
    StartTls,
    Tls,
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The address mail is sent from.
    pub from: String,
}

#[derive(Clone, Debug)]
pub struct SmsConfig {
    /// The HTTP gateway's URL; `None` keeps messages in the development outbox.
    pub gateway_url: Option<String>,
    pub account: Option<String>,
    pub token: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    /// The address users reach the console at; links in messages start with it.
    pub public_url: String,
    /// How long a saved 2FA change waits before it is applied.
    pub apply_delay: Duration,
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
    /// Key for encrypting secrets at rest (TOTP seeds).
    pub secret_key: Option<SecretKey>,
    pub sessions: SessionPolicy,
    /// Create demo data when the database is empty.
    pub demo: bool,
    /// How often the delivery worker looks for due messages (besides being woken).
    pub delivery_poll: Duration,
    /// How long an agent has to acknowledge a revision before the change counts as failed.
    pub ack_deadline: Duration,
    /// Connections, header and request deadlines, body size.
    pub limits: crate::serve::Limits,
    /// How long delivered messages, spent tokens and sign-in counts are kept.
    pub retention: domain::retention::Retention,
    /// Web Push: the VAPID signing key (a P-256 private key); `None` turns Web Push off.
    pub vapid_private_key: Option<SecretKey>,
    /// The contact push services see in the VAPID token (`mailto:` or `https:`).
    pub vapid_subject: String,
    /// Web Push may notify push services on this machine (127.0.0.1, ::1, localhost): for
    /// development and tests only. Other internal addresses are refused always.
    pub webpush_allow_loopback: bool,
}

/// A database URL. `Debug` and [`DatabaseUrl::redacted`] leave its password out.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL without its password, for logs.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
            _ => url.clone(),
        }
    }
}

impl std::ops::Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

/// The server's key for secrets at rest. `Debug` shows `[REDACTED]`, never the bytes.
#[derive(Debug)]
pub struct SecretKey(SecretBox<[u8; 32]>);

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        SecretKey(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl secrecy::ExposeSecret<[u8; 32]> for SecretKey {
    fn expose_secret(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl Config {
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// A setting that failed its rule. Displayed as one line: the setting, the rule, the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The known settings, by their name without prefix.
const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "public_url",
    "apply_delay_secs",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "sms_gateway_url",
    "sms_account",
    "sms_token",
    "secret_key",
    "session_idle_minutes",
    "session_absolute_hours",
    "demo",
    "delivery_poll_ms",
    "ack_deadline_secs",
    "header_read_timeout_secs",
    "request_timeout_secs",
    "max_connections",
    "max_body_bytes",
    "retention_days",
    "vapid_private_key",
    "vapid_subject",
    "webpush_allow_loopback",
];

/// One raw value and where it came from, for error messages.
struct Raw {
    value: String,
    source: String,
}

struct Settings(BTreeMap<&'static str, Raw>);

impl Settings {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let setting = match self.0.get(key) {
            Some(raw) => raw.source.clone(),
            None => format!("{ENV_PREFIX}{}", key.to_uppercase()),
        };
        ConfigError { setting, message: message.into() }
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|r| r.value.as_str()).filter(|v| !v.is_empty())
    }

    /// A true/false setting, false when unset.
    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.str(key).unwrap_or("false").to_lowercase().as_str() {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" => Ok(false),
            other => Err(self.err(key, format!("must be true or false, got {other:?}"))),
        }
    }

    fn parse_num<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &self,
        key: &str,
        default: T,
        min: T,
        max: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        let Some(v) = self.str(key) else { return Ok(default) };
        match v.trim().parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(self.err(key, format!("must be a whole number of {what} from {min} to {max}, got {v:?}"))),
        }
    }
}

impl Config {
    /// Reads the process environment and the file named by `HOSTGUARD_CONFIG`, if any.
    pub fn from_env() -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load(&vars)
    }

    /// Builds the configuration from these environment variables (and the file one names).
    pub fn load(vars: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut settings = Settings(BTreeMap::new());
        let config_file = vars.iter().find(|(k, _)| k == "HOSTGUARD_CONFIG").map(|(_, v)| v.clone());
        if let Some(path) = config_file.filter(|p| !p.is_empty()) {
            read_file(Path::new(&path), &mut settings)?;
        }
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else { continue };
            let key = key.to_lowercase();
            if let Some(known) = KEYS.iter().find(|k| **k == key) {
                settings.0.insert(known, Raw { value: value.clone(), source: name.clone() });
            }
        }
        Self::from_settings(&settings)
    }

    fn from_settings(s: &Settings) -> Result<Config, ConfigError> {
        let database_url = s.str("database_url").unwrap_or("sqlite://./data/hostguard.db?mode=rwc").to_owned();
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(s.err("database_url", "must start with sqlite:, postgres:// or postgresql://"));
        }

        let listen_raw = s.str("listen").unwrap_or("127.0.0.1:3000");
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            s.err("listen", format!("must be an address and port such as 127.0.0.1:3000, got {listen_raw:?}"))
        })?;

        let public_url = s.str("public_url").map(str::to_owned).unwrap_or_else(|| format!("http://{listen}"));
        let public_url = public_url.trim_end_matches('/').to_owned();
        let rest = public_url.strip_prefix("https://").or_else(|| public_url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(' ')) {
            return Err(s.err("public_url", format!("must be an http:// or https:// URL, got {public_url:?}")));
        }

        let apply_delay = Duration::from_secs(s.parse_num("apply_delay_secs", 300u64, 0, 86_400, "seconds")?);

        let security = match s.str("smtp_security").unwrap_or("none").to_lowercase().as_str() {
            "none" => SmtpSecurity::None,
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            other => return Err(s.err("smtp_security", format!("must be none, starttls or tls, got {other:?}"))),
        };
        let default_port = match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        };
        let smtp = SmtpConfig {
            host: s.str("smtp_host").unwrap_or("127.0.0.1").to_owned(),
            port: s.parse_num("smtp_port", default_port, 1, 65_535, "port")?,
            security,
            username: s.str("smtp_username").map(str::to_owned),
            password: s.str("smtp_password").map(SecretString::from),
            from: s.str("smtp_from").unwrap_or("hostguard@localhost").to_owned(),
        };
        if smtp.username.is_some() != smtp.password.is_some() {
            return Err(s.err("smtp_password", "smtp_username and smtp_password must be set together"));
        }
        if !smtp.from.contains('@') {
            return Err(s.err("smtp_from", format!("must be an email address, got {:?}", smtp.from)));
        }

        let gateway_url = s.str("sms_gateway_url").map(str::to_owned);
        if let Some(url) = &gateway_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(s.err("sms_gateway_url", format!("must be an http:// or https:// URL, got {url:?}")));
            }
        }
        let sms = SmsConfig {
            gateway_url,
            account: s.str("sms_account").map(str::to_owned),
            token: s.str("sms_token").map(SecretString::from),
        };

        let secret_key = match s.str("secret_key") {
            None => None,
            Some(hex) => Some(parse_key(hex).map(|k| SecretKey(SecretBox::new(Box::new(k)))).ok_or_else(|| {
                s.err(
                    "secret_key",
                    "must be 64 hexadecimal characters (32 random bytes), e.g. from `openssl rand -hex 32`",
                )
            })?),
        };

        let vapid_private_key = match s.str("vapid_private_key") {
            None => None,
            Some(v) => Some(parse_vapid_key(v).map(|k| SecretKey(SecretBox::new(Box::new(k)))).ok_or_else(|| {
                s.err(
                    "vapid_private_key",
                    "must be a P-256 private key: 32 bytes as 64 hexadecimal or 43 base64url characters",
                )
            })?),
        };
        let vapid_subject = match s.str("vapid_subject") {
            Some(v) => v.trim().to_owned(),
            None => format!("mailto:{}", smtp.from),
        };
        if !(vapid_subject.starts_with("mailto:") || vapid_subject.starts_with("https://")) {
            return Err(s.err("vapid_subject", format!("must be a mailto: or https:// URL, got {vapid_subject:?}")));
        }

        let idle = s.parse_num("session_idle_minutes", 30i64, 1, 24 * 60, "minutes")?;
        let absolute = s.parse_num("session_absolute_hours", 12i64, 1, 24 * 30, "hours")?;
        if idle > absolute * 60 {
            return Err(s.err("session_idle_minutes", "must not be longer than session_absolute_hours"));
        }

        let demo = s.bool("demo")?;
        let webpush_allow_loopback = s.bool("webpush_allow_loopback")?;

        Ok(Config {
            database_url: DatabaseUrl(database_url),
            listen,
            public_url,
            apply_delay,
            smtp,
            sms,
            secret_key,
            sessions: SessionPolicy {
                idle: chrono::Duration::minutes(idle),
                absolute: chrono::Duration::hours(absolute),
            },
            demo,
            delivery_poll: Duration::from_millis(s.parse_num(
                "delivery_poll_ms",
                1000u64,
                10,
                60_000,
                "milliseconds",
            )?),
            ack_deadline: Duration::from_secs(s.parse_num("ack_deadline_secs", 600u64, 5, 86_400, "seconds")?),
            vapid_private_key,
            vapid_subject,
            webpush_allow_loopback,
            retention: domain::retention::Retention(chrono::Duration::days(s.parse_num(
                "retention_days",
                30i64,
                2,
                3650,
                "days",
            )?)),
            limits: {
                let d = crate::serve::Limits::default();
                crate::serve::Limits {
                    header_read_timeout: Duration::from_secs(s.parse_num(
                        "header_read_timeout_secs",
                        d.header_read_timeout.as_secs(),
                        1,
                        300,
                        "seconds",
                    )?),
                    request_timeout: Duration::from_secs(s.parse_num(
                        "request_timeout_secs",
                        d.request_timeout.as_secs(),
                        1,
                        3600,
                        "seconds",
                    )?),
                    max_connections: s.parse_num("max_connections", d.max_connections, 1, 1_000_000, "connections")?,
                    max_body_bytes: s.parse_num("max_body_bytes", d.max_body_bytes, 1024, 64 * 1024 * 1024, "bytes")?,
                }
            },
        })
    }
}

fn read_file(path: &Path, settings: &mut Settings) -> Result<(), ConfigError> {
    let file_err = |message: String| ConfigError { setting: "HOSTGUARD_CONFIG".into(), message };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table =
        text.parse().map_err(|e| file_err(format!("{} is not valid TOML: {e}", path.display())))?;
    for (key, value) in table {
        let known = KEYS
            .iter()
            .find(|k| **k == key)
            .ok_or_else(|| file_err(format!("{}: unknown setting {key:?}", path.display())))?;
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(file_err(format!(
                    "{}: {key} must be a string, number or boolean, got {other}",
                    path.display()
                )))
            }
        };
        settings.0.insert(known, Raw { value, source: format!("{key} in {}", path.display()) });
    }
    Ok(())
}

/// A VAPID key: 32 bytes (hex, or base64url as `web-push generate-vapid-keys` prints it) that
/// are a valid P-256 scalar.
fn parse_vapid_key(value: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let v = value.trim();
    let key = parse_key(v).or_else(|| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok()?;
        <[u8; 32]>::try_from(bytes.as_slice()).ok()
    })?;
    p256::SecretKey::from_slice(&key).ok().map(|_| key)
}

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::load(&vars)
    }

    #[test]
    fn defaults_are_a_local_sqlite_console() {
        let c = load(&[]).unwrap();
        assert_eq!(&*c.database_url, "sqlite://./data/hostguard.db?mode=rwc");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.apply_delay, Duration::from_secs(300));
        assert!(!c.secure_cookies());
        assert!(!c.demo);
        assert_eq!(c.smtp.port, 25);
    }

    #[test]
    fn environment_overrides() {
        let c = load(&[
            ("HOSTGUARD_APPLY_DELAY_SECS", "5"),
            ("HOSTGUARD_PUBLIC_URL", "https://console.example.com/"),
            ("HOSTGUARD_SMTP_SECURITY", "starttls"),
            ("HOSTGUARD_DEMO", "true"),
            ("UNRELATED", "x"),
        ])
        .unwrap();
        assert_eq!(c.apply_delay, Duration::from_secs(5));
        assert_eq!(c.public_url, "https://console.example.com");
        assert!(c.secure_cookies());
        assert_eq!(c.smtp.port, 587);
        assert!(c.demo);
    }

    #[test]
    fn each_bad_value_names_its_variable_and_rule() {
        let cases = [
            ("HOSTGUARD_APPLY_DELAY_SECS", "soon", "whole number of seconds from 0 to 86400"),
            ("HOSTGUARD_APPLY_DELAY_SECS", "90000", "whole number of seconds from 0 to 86400"),
            ("HOSTGUARD_LISTEN", "localhost", "address and port"),
            ("HOSTGUARD_DATABASE_URL", "mysql://x", "must start with sqlite:"),
            ("HOSTGUARD_PUBLIC_URL", "console.example.com", "http:// or https://"),
            ("HOSTGUARD_SMTP_SECURITY", "ssl", "none, starttls or tls"),
            ("HOSTGUARD_SMTP_PORT", "0", "from 1 to 65535"),
            ("HOSTGUARD_SMTP_FROM", "nobody", "email address"),
            ("HOSTGUARD_SMS_GATEWAY_URL", "ftp://x", "http:// or https://"),
            ("HOSTGUARD_SECRET_KEY", "abcd", "64 hexadecimal characters"),
            ("HOSTGUARD_SESSION_IDLE_MINUTES", "-1", "from 1 to 1440"),
            ("HOSTGUARD_DEMO", "maybe", "true or false"),
            ("HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK", "sometimes", "true or false"),
            ("HOSTGUARD_VAPID_PRIVATE_KEY", "abcd", "P-256 private key"),
            (
                "HOSTGUARD_VAPID_PRIVATE_KEY",
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "P-256 private key",
            ),
            ("HOSTGUARD_VAPID_SUBJECT", "admin@example.com", "mailto:"),
        ];
        for (var, value, rule) in cases {
            let err = load(&[(var, value)]).expect_err(var);
            assert_eq!(err.setting, var, "{err}");
            assert!(err.message.contains(rule), "{var}={value}: {err}");
            let line = err.to_string();
            assert!(!line.contains('\n') && line.contains(var), "one line naming the variable: {line}");
        }
    }

    #[test]
    fn secret_key_must_be_32_bytes_of_hex() {
        let ok = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let c = load(&[("HOSTGUARD_SECRET_KEY", ok)]).unwrap();
        assert_eq!(c.secret_key.as_ref().unwrap().expose_secret()[1], 0x11);
        assert!(load(&[("HOSTGUARD_SECRET_KEY", &ok.replace('0', "g"))]).is_err());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let c = load(&[
            ("HOSTGUARD_SECRET_KEY", key),
            ("HOSTGUARD_SMTP_USERNAME", "mailer"),
            ("HOSTGUARD_SMTP_PASSWORD", "smtp-hunter2"),
            ("HOSTGUARD_SMS_TOKEN", "sms-hunter2"),
            ("HOSTGUARD_DATABASE_URL", "postgres://hg:db-hunter2@db/hg"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["smtp-hunter2", "sms-hunter2", "db-hunter2", "0x11", "17, 34"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn smtp_credentials_come_in_pairs() {
        let err = load(&[("HOSTGUARD_SMTP_USERNAME", "u")]).unwrap_err();
        assert!(err.message.contains("set together"), "{err}");
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hostguard.toml");
        std::fs::write(&path, "apply_delay_secs = 42\ndemo = true\nlisten = \"0.0.0.0:8080\"\n").unwrap();
        let p = path.to_str().unwrap();
        let c = load(&[("HOSTGUARD_CONFIG", p), ("HOSTGUARD_LISTEN", "127.0.0.1:9000")]).unwrap();
        assert_eq!(c.apply_delay, Duration::from_secs(42));
        assert!(c.demo);
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000", "the environment wins over the file");

        std::fs::write(&path, "apply_delay_secs = \"later\"\n").unwrap();
        let err = load(&[("HOSTGUARD_CONFIG", p)]).unwrap_err();
        assert_eq!(err.setting, format!("apply_delay_secs in {p}"));

        std::fs::write(&path, "aply_delay_secs = 1\n").unwrap();
        let err = load(&[("HOSTGUARD_CONFIG", p)]).unwrap_err();
        assert!(err.message.contains("unknown setting \"aply_delay_secs\""), "{err}");
    }
}
