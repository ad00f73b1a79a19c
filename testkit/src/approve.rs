//! Both sides of push for the tests. The approval side's tests get push requests written
//! straight to `push_requests`, as the login side writes them when a person chooses Push at the
//! SSH prompt. The login side's tests decide requests as a person does on their phone: an
//! [`Approver`] holds a registered approval device's P-256 key and a portal session, and calls
//! `portal/approvals/decide` with a signature over the request, the typed number and the
//! decision.

use crate::{Login, Refused, TestApp};
use app::functions::approvals::{DecidePush, MyPendingPushes};
use app::models::{DecisionResult, PendingPush, PushDecision};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use domain::{
    entities::{approval_device, push_request, user},
    Clock,
};
use p256::{
    ecdsa::{signature::Signer, Signature, SigningKey},
    pkcs8::EncodePublicKey,
};
use proto::push::PushStatus;
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use uuid::Uuid;

/// A person's registered approval device as their phone holds it (the private key never leaves
/// it), and their portal session.
#[derive(Clone)]
pub struct Approver {
    pub user_id: Uuid,
    pub device_id: Uuid,
    /// The portal session's `name=value` cookie (sessions live in the database: every replica
    /// accepts it).
    pub cookie: String,
    key: SigningKey,
}

/// Every approver the tests made, by person, so that [`TestApp::decide_push`] signs with the
/// person's own device. User ids are random: tests running at once never share one.
static APPROVERS: LazyLock<Mutex<HashMap<Uuid, Approver>>> = LazyLock::new(Default::default);

impl Approver {
    /// The device's signature (raw r‖s, base64) over what the console checks.
    pub fn sign(&self, request: Uuid, number: u16, decision: PushDecision) -> String {
        let sig: Signature = self.key.sign(proto::push::signed_message(request, number, decision).as_bytes());
        STANDARD.encode(sig.to_bytes())
    }

    /// The person's pending requests, as the phone lists them (on `app`, any replica).
    pub async fn pending(&self, app: &TestApp) -> Vec<PendingPush> {
        app.run(&self.cookie, MyPendingPushes {}).await
    }

    /// Sends a decision with `signature` as given (for forged or garbage ones).
    pub async fn send(
        &self,
        app: &TestApp,
        request: Uuid,
        number: &str,
        decision: PushDecision,
        signature: String,
    ) -> Result<DecisionResult, Refused> {
        let args = DecidePush {
            request_id: request.to_string(),
            device_id: self.device_id.to_string(),
            number: number.to_owned(),
            decision,
            signature,
        };
        app.try_run(&self.cookie, args).await
    }

    /// Decides `request` as the phone does: the number typed (0 for none), signed by the device.
    pub async fn decide(
        &self,
        app: &TestApp,
        request: Uuid,
        number: u16,
        decision: PushDecision,
    ) -> Result<DecisionResult, Refused> {
        let typed = if number == 0 { String::new() } else { number.to_string() };
        self.send(app, request, &typed, decision, self.sign(request, number, decision)).await
    }

    /// The person's only pending request (waiting up to 10 s for it to appear), decided with
    /// `number` read from the login prompt.
    pub async fn decide_pending(&self, app: &TestApp, number: u16, decision: PushDecision) -> Result<DecisionResult, Refused> {
        let mut pending = self.pending(app).await;
        for _ in 0..200 {
            if !pending.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            pending = self.pending(app).await;
        }
        assert_eq!(pending.len(), 1, "one pending request: {pending:?}");
        self.decide(app, pending[0].id, number, decision).await
    }
}

/// A P-256 public key as the browser exports it (SubjectPublicKeyInfo DER).
fn spki(key: &SigningKey) -> Vec<u8> {
    p256::PublicKey::from(key.verifying_key()).to_public_key_der().expect("a P-256 key encodes").as_bytes().to_vec()
}

/// A push request as a test wants it.
#[derive(Clone, Debug)]
pub struct NewPushRequest {
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    pub number: i32,
    /// Seconds until it expires (the login side gives 60).
    pub expires_in_secs: i64,
}

impl Default for NewPushRequest {
    fn default() -> Self {
        Self {
            server_name: "web-01".into(),
            account: "deploy".into(),
            source_ip: "203.0.113.7".into(),
            number: 472,
            expires_in_secs: 60,
        }
    }
}

impl TestApp {
    /// A pending push request for `who`, created now by the test clock; returns its id.
    pub async fn push_request(&self, who: &Login, r: NewPushRequest) -> Uuid {
        let owner = user::Entity::find_by_id(who.id).one(&self.ctx.db).await.unwrap().expect("the user exists");
        let now = self.clock.now();
        let id = Uuid::new_v4();
        let row = push_request::Model {
            id,
            tenant_id: owner.tenant_id.expect("an end user has a tenant"),
            user_id: who.id,
            login_id: Uuid::new_v4(),
            server_name: r.server_name,
            account: r.account,
            source_ip: r.source_ip,
            number: r.number,
            status: PushStatus::Pending,
            wrong_numbers: 0,
            created_at: now,
            expires_at: now + Duration::seconds(r.expires_in_secs),
            decided_at: None,
            device_id: None,
        };
        push_request::Entity::insert(push_request::ActiveModel::from(row))
            .exec_without_returning(&self.ctx.db)
            .await
            .expect("insert a push request");
        id
    }

    /// Gives `who` an approval device with a fresh P-256 key (stored as registration stores it;
    /// registration itself is tested in `approvals`), signs them in to the portal and returns
    /// the phone that decides their pushes.
    pub async fn approver(&self, who: &Login) -> Approver {
        let owner = user::Entity::find_by_id(who.id).one(&self.ctx.db).await.unwrap().expect("the user exists");
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let device_id = Uuid::new_v4();
        approval_device::Entity::insert(approval_device::ActiveModel {
            id: Set(device_id),
            tenant_id: Set(owner.tenant_id.expect("an end user has a tenant")),
            user_id: Set(who.id),
            name: Set("Test phone".into()),
            public_key: Set(spki(&key)),
            created_at: Set(self.clock.now()),
            last_used_at: Set(None),
        })
        .exec_without_returning(&self.ctx.db)
        .await
        .expect("insert an approval device");
        let cookie = self.sign_in(who).await;
        let approver = Approver { user_id: who.id, device_id, cookie, key };
        APPROVERS.lock().unwrap().insert(who.id, approver.clone());
        approver
    }

    /// Decides login `login_id`'s newest push request with the signed call its owner's phone
    /// makes (approve with the number the prompt shows, deny, or "This wasn't me"), through this
    /// replica. The owner must have an approver ([`TestApp::approver`]).
    pub async fn decide_push(&self, login_id: Uuid, status: PushStatus) -> DecisionResult {
        let request = self.push_request_of(login_id).await;
        let approver = APPROVERS
            .lock()
            .unwrap()
            .get(&request.user_id)
            .cloned()
            .expect("the request's owner has an approval device (TestApp::approver)");
        let (number, decision) = match status {
            PushStatus::Approved => (u16::try_from(request.number).unwrap(), PushDecision::Approve),
            PushStatus::Denied => (0, PushDecision::Deny),
            PushStatus::Fraud => (0, PushDecision::Fraud),
            other => panic!("a person cannot decide {other:?}"),
        };
        approver.decide(self, request.id, number, decision).await.unwrap_or_else(|e| panic!("decide: {e}"))
    }

    /// The request as stored now.
    pub async fn push_request_row(&self, id: Uuid) -> push_request::Model {
        push_request::Entity::find_by_id(id).one(&self.ctx.db).await.unwrap().expect("the request exists")
    }
}
