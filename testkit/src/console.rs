//! Starts the real console on a random port with a fresh database, like a user would meet it.
//! SQLite gets a temporary file; PostgreSQL a new database in the throwaway cluster.

use app::models::{two_factor::TwoFactorQuery, CurrentUser, TwoFactorPage};
use domain::{lockout::LockoutPolicy, ManualClock};
use leptos::prelude::LeptosOptions;
use reqwest::{header, redirect::Policy, Response};
use server::config::Config;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub ctx: domain::Ctx,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub public_url: Option<String>,
    pub lockout: LockoutPolicy,
    /// Join an existing database (a second replica) instead of making a fresh one.
    pub database_url: Option<String>,
    /// The SMTP server mail goes to; by default a port where nothing listens.
    pub smtp_port: Option<u16>,
    /// An HTTP SMS gateway; by default the development outbox.
    pub sms_gateway_url: Option<String>,
    /// `HOSTGUARD_SECRET_KEY` (64 hex digits); by default [`TEST_SECRET_KEY`], `None` for none.
    pub secret_key: Option<String>,
    /// Seed the demo data into a fresh database (`HOSTGUARD_DEMO`). Tests that make their own
    /// tenants with [`TestApp::create_tenant`] turn it off.
    pub demo: bool,
    /// More settings, as `HOSTGUARD_*` variables.
    pub env: Vec<(&'static str, String)>,
}

/// The server secret key the tests run with, so access keys can be created.
pub const TEST_SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl Default for Options {
    fn default() -> Self {
        Self {
            public_url: None,
            lockout: LockoutPolicy::default(),
            database_url: None,
            smtp_port: None,
            sms_gateway_url: None,
            secret_key: Some(TEST_SECRET_KEY.to_string()),
            demo: true,
            env: vec![],
        }
    }
}

impl Options {
    /// An empty console: no demo data, only what the test creates.
    pub fn empty() -> Self {
        Self { demo: false, ..Default::default() }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, opts: Options) -> TestApp {
    crate::log::init();
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = opts.database_url.is_none();
    let database_url = match (opts.database_url, backend) {
        (Some(url), _) => url,
        (None, Backend::Sqlite) => format!("sqlite://{}?mode=rwc", dir.path().join("hostguard.db").display()),
        (None, Backend::Postgres) => crate::fresh_postgres_database().await,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let mut vars = vec![
        ("HOSTGUARD_DATABASE_URL".to_string(), database_url.clone()),
        ("HOSTGUARD_LISTEN".to_string(), addr.to_string()),
        ("HOSTGUARD_DEMO".to_string(), opts.demo.to_string()),
        ("HOSTGUARD_SMTP_HOST".to_string(), "127.0.0.1".to_string()),
        ("HOSTGUARD_SMTP_PORT".to_string(), opts.smtp_port.unwrap_or(9).to_string()),
        ("HOSTGUARD_DELIVERY_POLL_MS".to_string(), "50".to_string()),
        // The stand-in push service listens on 127.0.0.1.
        ("HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK".to_string(), "true".to_string()),
    ];
    if let Some(url) = opts.sms_gateway_url {
        vars.push(("HOSTGUARD_SMS_GATEWAY_URL".to_string(), url));
        vars.push(("HOSTGUARD_SMS_ACCOUNT".to_string(), "AC-test".to_string()));
        vars.push(("HOSTGUARD_SMS_TOKEN".to_string(), "gateway-secret".to_string()));
    }
    if let Some(key) = opts.secret_key {
        vars.push(("HOSTGUARD_SECRET_KEY".to_string(), key));
    }
    vars.extend(opts.env.into_iter().map(|(k, v)| (k.to_string(), v)));
    if let Some(url) = opts.public_url {
        vars.push(("HOSTGUARD_PUBLIC_URL".to_string(), url));
    }
    let config = Config::load(&vars).expect("test configuration is valid");
    let leptos_options = LeptosOptions::builder().output_name("hostguard").site_addr(addr).build();
    let clock = ManualClock::new(chrono::Utc::now());
    let console =
        server::build(&config, leptos_options, Arc::new(clock.clone()), opts.lockout).await.expect("console starts");
    assert_eq!(
        console.demo_created,
        fresh && opts.demo,
        "a fresh database, and only that, gets the demo data if asked"
    );
    let ctx = console.ctx.clone();
    let limits = config.limits;
    tokio::spawn(server::serve::serve(listener, console.router, limits, std::future::pending::<()>()));
    TestApp {
        base: format!("http://{addr}"),
        database_url,
        ctx,
        clock,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap(),
        _dir: dir,
    }
}

/// A sign-in name and password: the demo's `(email, password)` pairs or a [`crate::Login`].
pub trait Credentials {
    fn email(&self) -> &str;
    fn password(&self) -> &str;
}

impl<E: AsRef<str>, P: AsRef<str>> Credentials for (E, P) {
    fn email(&self) -> &str {
        self.0.as_ref()
    }
    fn password(&self) -> &str {
        self.1.as_ref()
    }
}

impl<T: Credentials + ?Sized> Credentials for &T {
    fn email(&self) -> &str {
        (**self).email()
    }
    fn password(&self) -> &str {
        (**self).password()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls a server function the way a browser's form does, with an optional session cookie,
    /// and returns the raw response: for tests of the wire itself (a body that must not hold a
    /// secret, a form the typed client cannot send, a cookie the answer sets). Everything else
    /// calls typed: [`TestApp::run`].
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Response {
        let mut req = self.http.post(self.url(&format!("/api/{endpoint}"))).form(form);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.expect("request")
    }

    /// The 2FA tab's list (`two-factor/list`): page 1 of 100, no filters, except the ones in
    /// `given` (`search`, `status`, `os_type`, `method`, `sort`, `region`).
    pub async fn two_factor_page(&self, cookie: &str, given: &[(&str, &str)]) -> TwoFactorPage {
        let mut query = TwoFactorQuery { page_size: 100, ..Default::default() };
        for (key, value) in given {
            let field = match *key {
                "search" => &mut query.search,
                "status" => &mut query.status,
                "os_type" => &mut query.os_type,
                "method" => &mut query.method,
                "sort" => &mut query.sort,
                "region" => &mut query.region,
                other => panic!("two_factor_page: no filter named {other}"),
            };
            *field = (*value).to_owned();
        }
        self.two_factor_list(cookie, query).await
    }

    pub async fn get_page(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path)).header(header::ACCEPT, "text/html");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.expect("request")
    }

    /// Signs in and returns the response: the password's, or, when the console then asks for a
    /// code from the account's console authenticator, the second step's (see `console_sign_in`).
    pub async fn sign_in_raw(&self, who: impl Credentials, cookie: Option<&str>) -> Response {
        let res = self.sign_in_password_only(&who, cookie).await;
        if !crate::console_sign_in::asks_for_code(&res) {
            return res;
        }
        let half = session_cookie(&res).expect("the password step sets the session cookie");
        self.second_step(who.email(), &half).await
    }

    /// The password step of a sign-in alone.
    pub async fn sign_in_password_only(&self, who: impl Credentials, cookie: Option<&str>) -> Response {
        self.call("auth/sign_in", &[("email", who.email()), ("password", who.password())], cookie).await
    }

    /// Signs in and returns the `name=value` session cookie.
    /// When the account has a console authenticator, completes the second step with its code
    /// (see `console_sign_in`).
    pub async fn sign_in(&self, who: impl Credentials) -> String {
        let res = self.sign_in_raw(&who, None).await;
        assert_eq!(res.status(), 200, "sign-in of {} succeeds", who.email());
        session_cookie(&res).expect("sign-in sets the session cookie")
    }

    /// The email of the signed-in user, or None.
    pub async fn me(&self, cookie: &str) -> Option<String> {
        let res = self.call("auth/me", &[], Some(cookie)).await;
        assert_eq!(res.status(), 200);
        let me: Option<CurrentUser> = res.json().await.expect("auth/me answers a CurrentUser or null");
        me.map(|u| u.email)
    }
}

/// The full `Set-Cookie` header of the session cookie, if the response sets it.
pub fn set_session_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| [server::SESSION_COOKIE, server::SECURE_SESSION_COOKIE].iter().any(|n| v.starts_with(&format!("{n}="))))
        .map(str::to_owned)
}

/// `name=value` of the session cookie the response sets.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_session_cookie(res).map(|v| v.split(';').next().unwrap().to_owned())
}
