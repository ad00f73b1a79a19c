//! A software passkey for the integration tests: a P-256 key that answers WebAuthn options as a
//! platform authenticator with user verification would (attestation "none", a signature
//! counter), and typed calls of the passkey server functions, including the sign-in that
//! returns a session cookie.

use crate::{session_cookie, Refused, TestApp};
use app::models::AppError;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use leptos::server_fn::ServerFn;
use p256::ecdsa::{signature::Signer, DerSignature, SigningKey};
use reqwest::header;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A software authenticator holding one credential.
#[derive(Clone)]
pub struct SoftPasskey {
    pub credential_id: Vec<u8>,
    key: SigningKey,
    /// The user handle the relying party gave at registration (a discoverable credential).
    pub user_handle: Vec<u8>,
    /// The signature counter; each assertion adds one.
    pub counter: u32,
    /// The origin the browser would report (`clientDataJSON.origin`).
    pub origin: String,
}

/// User present, user verified.
const UP_UV: u8 = 0x05;
const ATTESTED: u8 = 0x40;

fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn cbor_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        cbor_head(0, i as u64, out)
    } else {
        cbor_head(1, (-1 - i) as u64, out)
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len() as u64, out);
    out.extend(b);
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len() as u64, out);
    out.extend(s.as_bytes());
}

fn options_of(json: &str) -> Value {
    let v: Value = serde_json::from_str(json).expect("WebAuthn options are JSON");
    v.get("publicKey").cloned().expect("options have publicKey")
}

impl SoftPasskey {
    /// A new key that will report `origin` (the console's, as the browser sees it).
    pub fn new(origin: &str) -> Self {
        let mut id = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        Self {
            credential_id: id,
            key: SigningKey::random(&mut rand::rngs::OsRng),
            user_handle: vec![],
            counter: 0,
            origin: origin.to_owned(),
        }
    }

    /// For a console on a loopback address: the origin its passkeys belong to (`localhost`).
    pub fn for_app(app: &TestApp) -> Self {
        Self::new(&app.base.replace("127.0.0.1", "localhost"))
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = vec![];
        cbor_head(5, 5, &mut out);
        cbor_int(1, &mut out);
        cbor_int(2, &mut out); // kty: EC2
        cbor_int(3, &mut out);
        cbor_int(-7, &mut out); // alg: ES256
        cbor_int(-1, &mut out);
        cbor_int(1, &mut out); // crv: P-256
        cbor_int(-2, &mut out);
        cbor_bytes(point.x().expect("x").as_slice(), &mut out);
        cbor_int(-3, &mut out);
        cbor_bytes(point.y().expect("y").as_slice(), &mut out);
        out
    }

    /// Answers registration options (`navigator.credentials.create`): the
    /// `RegisterPublicKeyCredential` JSON a browser sends back.
    pub fn register(&mut self, options_json: &str) -> String {
        let o = options_of(options_json);
        let challenge = o["challenge"].as_str().expect("challenge");
        let rp_id = o["rp"]["id"].as_str().expect("rp.id");
        self.user_handle = B64.decode(o["user"]["id"].as_str().expect("user.id")).expect("user.id is base64url");
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP_UV | ATTESTED);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut att = vec![];
        cbor_head(5, 3, &mut att);
        cbor_text("fmt", &mut att);
        cbor_text("none", &mut att);
        cbor_text("attStmt", &mut att);
        cbor_head(5, 0, &mut att);
        cbor_text("authData", &mut att);
        cbor_bytes(&auth_data, &mut att);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(att),
                "clientDataJSON": B64.encode(self.client_data("webauthn.create", challenge)),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// Answers assertion options (`navigator.credentials.get`) with the next counter value.
    pub fn assert(&mut self, options_json: &str) -> String {
        self.counter += 1;
        self.assert_with_counter(options_json, self.counter)
    }

    /// Answers assertion options with signature counter `counter` (a clone's would go back).
    pub fn assert_with_counter(&self, options_json: &str, counter: u32) -> String {
        let o = options_of(options_json);
        let challenge = o["challenge"].as_str().expect("challenge");
        let rp_id = o["rpId"].as_str().expect("rpId");
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP_UV);
        auth_data.extend(counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: DerSignature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }
}

impl TestApp {
    /// Calls server function `args` (as [`TestApp::try_run`] does) and returns its answer with
    /// the session cookie it set, if any: for the sign-in functions.
    pub async fn run_for_cookie<F>(&self, args: F) -> Result<(F::Output, Option<String>), Refused>
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: serde::de::DeserializeOwned,
    {
        let form = serde_qs::to_string(&args).expect("server function arguments encode as a form");
        let res = self
            .http
            .post(self.url(F::PATH))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let cookie = session_cookie(&res);
        let body = res.text().await.expect("response body");
        if status == 200 {
            return Ok((serde_json::from_str(&body).expect("the answer reads"), cookie));
        }
        let error = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{status} is not an AppError ({e}): {body}"));
        Err(Refused { status, error })
    }
}
