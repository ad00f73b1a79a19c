//! "Get a code" on the portal's Approvals page: a nonce for this browser's approval device to
//! sign, then the signed request for a one-time login code. End users only; the rules are
//! `domain::push::codes`'s.

use crate::models::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A single-use nonce the device signs (`proto::push::code_request_message`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceToSign {
    pub nonce: String,
    pub expires: DateTime<Utc>,
}

/// A one-time code for one login, shown once (`1234 5678`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeCode {
    pub code: String,
    pub expires: DateTime<Utc>,
    pub valid_minutes: i64,
    /// Codes the person may still get this hour.
    pub left_this_hour: u64,
}

/// A nonce for a code request.
#[server(prefix = "/api", endpoint = "portal/codes/nonce")]
pub async fn code_nonce() -> Result<NonceToSign, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let n = domain::push::codes::nonce(&ctx, &caller).await?;
    Ok(NonceToSign { nonce: n.nonce, expires: n.expires_at })
}

/// A one-time code, if `signature` (raw r‖s, base64) is approval device `device_id`'s over
/// `proto::push::code_request_message(nonce)`. The nonce is spent by the attempt.
#[server(prefix = "/api", endpoint = "portal/codes/get")]
pub async fn get_code(device_id: String, nonce: String, signature: String) -> Result<OneTimeCode, AppError> {
    use super::portal::ssr::{actor, caller, parse_id};
    let (ctx, caller) = caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let device_id = parse_id(&device_id, "approval device")?;
    let signature = {
        use base64::{
            engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
            Engine,
        };
        let v = signature.trim();
        STANDARD.decode(v).or_else(|_| URL_SAFE_NO_PAD.decode(v.trim_end_matches('='))).map_err(|_| {
            domain::DomainError::validation("signature", "must be an ECDSA P-256 signature (r and s), base64-encoded")
        })?
    };
    let actor = actor(&caller).await;
    let req = domain::push::codes::CodeRequest { device_id, nonce, signature };
    let got = domain::push::codes::issue(&ctx, &caller, &actor, &req).await?;
    Ok(OneTimeCode {
        code: got.code,
        expires: got.expires_at,
        valid_minutes: domain::push::codes::VALID_MINUTES,
        left_this_hour: got.left_this_hour,
    })
}
