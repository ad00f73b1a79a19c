//! A protected server for login tests: a tenant and its admin, a server registered by an agent
//! (whose credential the test holds), a notification topic with confirmed endpoints, and 2FA
//! in force on the server as if its agent had applied it.

use crate::{TenantFixture, TestApp};
use domain::{
    audit::Actor,
    entities::{subscription, two_factor_config as config},
    Caller, Clock, Role,
};
use proto::agent::paths;
use proto::login::{Action, LoginAnswer, LoginReply, LoginStart, Step};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub struct Protected {
    pub tenant: TenantFixture,
    /// The tenant's admin, who can sign in to the console.
    pub admin: crate::Login,
    pub caller: Caller,
    pub server_id: Uuid,
    pub server_name: String,
    /// The agent's bearer credential.
    pub credential: String,
    pub topic_id: Uuid,
}

/// The text and echo of a prompt step; any other step fails the test.
pub fn prompt_of(step: &Step) -> (&str, bool) {
    match &step.action {
        Action::Prompt { text, echo } => (text.as_str(), *echo),
        other => panic!("expected a prompt, got {other:?} (info {:?})", step.info),
    }
}

/// The message of a denial; any other step fails the test.
pub fn denial(step: &Step) -> &str {
    match &step.action {
        Action::Deny { message } => message,
        other => panic!("expected a denial, got {other:?} (info {:?})", step.info),
    }
}

impl TestApp {
    /// A login's row in the login audit.
    pub async fn login_row(&self, id: Uuid) -> domain::entities::server_login::Model {
        domain::entities::server_login::Entity::find_by_id(id).one(&self.ctx.db).await.unwrap().unwrap()
    }

    /// A tenant with one registered server and a topic whose endpoints (`sms:+…` or an email
    /// address) are confirmed. 2FA is not on yet: see [`TestApp::put_in_force`].
    pub async fn protected_server(&self, tenant_name: &str, server_name: &str, endpoints: &[&str]) -> Protected {
        let tenant = self.create_tenant(tenant_name).await;
        let admin = tenant.admin(self, "admin").await;
        let caller =
            Caller { user_id: admin.id, role: Role::TenantAdmin, tenant_id: Some(tenant.id), email: admin.email.clone() };
        let actor = Actor::new("test", "127.0.0.1");
        let (token, _) = domain::agents::create_install_token(&self.ctx, &caller, &actor).await.unwrap();
        let facts = proto::agent::Facts {
            hostname: server_name.to_owned(),
            ips: vec!["192.0.2.10".into()],
            os_type: "linux".into(),
            os_name: "Debian GNU/Linux 12".into(),
            openssh_version: Some("OpenSSH_9.2p1".into()),
            sshd_use_pam: Some(true),
            sshd_kbd_interactive: Some(true),
            sshd_permit_empty_passwords: Some(false),
            agent_version: "test".into(),
            ..Default::default()
        };
        let registered = domain::agents::register(&self.ctx, &token, &facts, "127.0.0.1").await.unwrap();
        let new = domain::topics::NewTopic::parse(&format!("codes-{}", &Uuid::new_v4().simple().to_string()[..8]), "Login codes").unwrap();
        let topic = domain::topics::create(&self.ctx, &caller, &actor, &new)
            .await
            .unwrap();
        let new: Vec<_> = endpoints
            .iter()
            .map(|e| domain::subscriptions::NewEndpoint {
                protocol: if e.contains('@') { "email" } else { "sms" }.into(),
                endpoint: (*e).to_owned(),
                remark: String::new(),
            })
            .collect();
        if !new.is_empty() {
            domain::subscriptions::add(&self.ctx, &caller, &actor, topic.id, &new).await.unwrap();
            // Confirmed, as if each endpoint had followed its link.
            subscription::Entity::update_many()
                .col_expr(subscription::Column::Status, sea_orm::sea_query::Expr::value("confirmed"))
                .filter(subscription::Column::TopicId.eq(topic.id))
                .exec(&self.ctx.db)
                .await
                .unwrap();
        }
        Protected {
            tenant,
            admin,
            caller,
            server_id: registered.server_id,
            server_name: server_name.to_owned(),
            credential: secrecy::ExposeSecret::expose_secret(&registered.credential).to_owned(),
            topic_id: topic.id,
        }
    }

    /// Puts 2FA with `method` (`sms` or `code`, or `None` for off) in force on the server, as
    /// an acknowledged revision.
    pub async fn put_in_force(&self, p: &Protected, method: Option<&str>) {
        let now = self.clock.now();
        let method = method.map(|m| proto::Method::parse(m).expect("sms or code"));
        let row = config::ActiveModel {
            server_id: Set(p.server_id),
            tenant_id: Set(p.tenant.id),
            enabled: Set(method.is_some()),
            method: Set(method.unwrap_or(proto::Method::Sms)),
            topic_id: Set(Some(p.topic_id)),
            updated_at: Set(now),
            revision: Set(1),
            phase: Set(config::PhaseName::Applied),
            due_at: Set(None),
            phase_at: Set(Some(now)),
            failure_reason: Set(None),
            failure_kind: Set(None),
            applied_revision: Set(1),
            applied_enabled: Set(method.is_some()),
            applied_method: Set(method),
            applied_topic_id: Set(Some(p.topic_id)),
        };
        config::Entity::delete_by_id(p.server_id).exec(&self.ctx.db).await.unwrap();
        config::Entity::insert(row).exec_without_returning(&self.ctx.db).await.unwrap();
    }

    /// `POST /agent/v1/logins` as the agent with `credential`, the raw response (for tests of
    /// statuses; [`crate::FakeAgent::login_start`] reads the reply).
    pub async fn login_start(&self, credential: &str, account: &str, source_ip: &str) -> reqwest::Response {
        let body = LoginStart { account: account.into(), source_ip: source_ip.into(), service: "sshd".into(), tty: "ssh".into(), ..Default::default() };
        self.http.post(self.url(paths::LOGINS)).bearer_auth(credential).json(&body).send().await.unwrap()
    }

    /// `POST /agent/v1/logins/{id}/answer` as the agent with `credential`.
    pub async fn login_answer(&self, credential: &str, login_id: Uuid, answer: &str) -> reqwest::Response {
        self.http
            .post(self.url(&paths::login_answer(login_id)))
            .bearer_auth(credential)
            .json(&LoginAnswer { answer: answer.into() })
            .send()
            .await
            .unwrap()
    }

    /// The agent of a protected server, on the agent's own API client.
    pub fn agent_of(&self, p: &Protected) -> crate::FakeAgent {
        self.agent(p.server_id, &p.credential)
    }

    /// A login started by the protected server's agent, expecting a reply.
    pub async fn start_ok(&self, p: &Protected, account: &str, source_ip: &str) -> LoginReply {
        self.agent_of(p).login_start(account, source_ip).await
    }

    /// An answer sent by the protected server's agent, expecting a reply.
    pub async fn answer_ok(&self, p: &Protected, login_id: Uuid, answer: &str) -> LoginReply {
        self.agent_of(p).login_answer(login_id, answer).await
    }
}
