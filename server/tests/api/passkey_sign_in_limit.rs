//! "Use a passkey" is limited per source address like a password sign-in: every start counts
//! against the address's failed sign-ins until a passkey answers it, so past the limit the
//! address is refused (429, saying so) while another address is not; a finished sign-in gives
//! its start back, and the lock ends with its time.

use crate::common::*;
use crate::passkeys::{add_passkey, person_with_an_app};
use app::functions::passkeys::{BeginPasskeySignIn, FinishPasskeySignIn, SignedIn};
use app::models::AppError;
use domain::lockout::LockoutPolicy;
use std::net::{IpAddr, Ipv4Addr};
use testkit::passkey::SoftPasskey;

const LIMIT: u32 = 5;

async fn sign_in_via(app: &TestApp, http: &reqwest::Client, key: &mut SoftPasskey) -> Result<SignedIn, Refused> {
    let c = app.try_run_via(http, NO_SESSION, BeginPasskeySignIn {}).await?;
    let credential = key.assert(&c.options);
    let args = FinishPasskeySignIn { ceremony_id: c.ceremony_id.to_string(), credential, next: String::new() };
    app.try_run_via(http, NO_SESSION, args).await
}

async fn passkey_sign_ins_are_limited_per_address(backend: Backend) {
    let lockout =
        LockoutPolicy { source_lock_after: LIMIT, delay_step: std::time::Duration::ZERO, ..Default::default() };
    let app = spawn_app_with(backend, Options { lockout, ..Options::empty() }).await;
    let acme = app.create_tenant("Acme Limits").await;
    let alice = acme.end_user(&app, "alice").await;
    let (cookie, _) = person_with_an_app(&app, &alice).await;
    let mut key = SoftPasskey::for_app(&app);
    add_passkey(&app, &cookie, &mut key, "Laptop").await;
    let here = app.client_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let there = app.client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));

    // Finished sign-ins give their start back: more of them than the limit all pass.
    for _ in 0..=LIMIT {
        sign_in_via(&app, &here, &mut key).await.unwrap();
    }
    // Starts nobody finishes (a script opening ceremonies) count up to the limit...
    for n in 0..LIMIT {
        app.try_run_via(&here, NO_SESSION, BeginPasskeySignIn {}).await.unwrap_or_else(|e| panic!("start {n}: {e}"));
    }
    // ...and the next is refused, saying why.
    let r = app.try_run_via(&here, NO_SESSION, BeginPasskeySignIn {}).await.unwrap_err();
    assert_eq!(r.status, 429, "{r}");
    assert!(matches!(&r.error, AppError::RateLimited(m) if m.contains("from your address")), "{r}");
    // The address's lock is the one password sign-ins count against.
    assert_eq!(app.sign_in_raw(&alice, None).await.status(), 429, "a password from there waits too");

    // Another address is not affected.
    let signed_in = sign_in_via(&app, &there, &mut key).await.unwrap();
    assert_eq!(signed_in.next, "/portal");

    // The lock ends with its time.
    app.clock.advance(lockout.lock_for);
    sign_in_via(&app, &here, &mut key).await.unwrap();
}
on_both_databases!(passkey_sign_ins_are_limited_per_address, super::passkey_sign_ins_are_limited_per_address);
