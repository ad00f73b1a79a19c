//! Retention of issue 17's tables: a purge drops "Get a code" codes and nonces, passkey
//! ceremonies, password resets, wrong console codes, step-ups, push mutes and notifier claims
//! once no rule can read them, push requests and long-expired invitations after the retention
//! period (each person's newest invitation stays), clears expired code hashes, and keeps
//! everything younger; a limit's window is never cut short.

use crate::common::*;
use chrono::{DateTime, Duration, Utc};
use domain::{
    entities::{
        console_wrong_code, factor_step_up, invitation, login_code, login_code_nonce, passkey_ceremony, password_reset,
        phone, push_mute, push_notification, push_request, server_login,
    },
    error::DomainError,
    retention::{purge, Retention},
    Clock, Role,
};
use proto::push::PushStatus;
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
use uuid::Uuid;

struct World {
    app: TestApp,
    tenant: Uuid,
    who: Uuid,
    now: DateTime<Utc>,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let app = spawn_app_with(backend, Options::empty()).await;
        let t = app.create_tenant("Retention").await;
        let who = app.create_user(Some(&t), Role::EndUser, &format!("bo@{}", t.domain)).await;
        let now = app.clock.now();
        World { app, tenant: t.id, who: who.id, now }
    }

    async fn login_code(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        login_code::Entity::insert(login_code::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            device_id: Set(Uuid::new_v4()),
            code_hash: Set("argon2-hash".into()),
            created_at: Set(made),
            expires_at: Set(made + Duration::minutes(domain::push::codes::VALID_MINUTES)),
            used_at: Set(None),
            login_id: Set(None),
            replaced_at: Set(None),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn nonce(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        login_code_nonce::Entity::insert(login_code_nonce::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            nonce: Set(Uuid::new_v4().simple().to_string()),
            created_at: Set(made),
            expires_at: Set(made + Duration::minutes(domain::push::codes::NONCE_VALID_MINUTES)),
            used_at: Set(Some(made)),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn ceremony(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        passkey_ceremony::Entity::insert(passkey_ceremony::ActiveModel {
            id: Set(id),
            purpose: Set(passkey_ceremony::Purpose::SignIn),
            tenant_id: Set(None),
            user_id: Set(None),
            session_ref: Set(None),
            name: Set(None),
            request_id: Set(None),
            number: Set(None),
            decision: Set(None),
            state: Set("{}".into()),
            created_at: Set(made),
            expires_at: Set(made + Duration::seconds(domain::factors::passkeys::CEREMONY_VALID_SECS)),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn wrong_code(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        console_wrong_code::Entity::insert(console_wrong_code::ActiveModel {
            id: Set(id),
            user_id: Set(self.who),
            created_at: Set(made),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn step_up(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        factor_step_up::Entity::insert(factor_step_up::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            session_ref: Set(Some(Uuid::new_v4())),
            succeeded: Set(true),
            created_at: Set(made),
            expires_at: Set(Some(made + Duration::minutes(domain::factors::guard::STEP_UP_VALID_MINUTES))),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn push_request(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        push_request::Entity::insert(push_request::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            login_id: Set(Uuid::new_v4()),
            server_name: Set("web-01".into()),
            account: Set("deploy".into()),
            source_ip: Set("198.51.100.7".into()),
            number: Set(472),
            status: Set(PushStatus::Denied),
            wrong_numbers: Set(0),
            created_at: Set(made),
            expires_at: Set(made + Duration::seconds(60)),
            decided_at: Set(Some(made)),
            device_id: Set(None),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        push_notification::Entity::insert(push_notification::ActiveModel {
            request_id: Set(id),
            created_at: Set(made),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn mute(&self, until: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        push_mute::Entity::insert(push_mute::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            reason: Set(push_mute::MuteReason::Denials),
            request_id: Set(Uuid::new_v4()),
            created_at: Set(until - Duration::minutes(domain::push::mute::MUTE_MINUTES)),
            until: Set(until),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn invitation(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        invitation::Entity::insert(invitation::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            channel: Set(proto::Channel::Email),
            address: Set("bo@retention.test".into()),
            token_hash: Set(Uuid::new_v4().simple().to_string()),
            invited_by: Set("admin@retention.test".into()),
            created_at: Set(made),
            sent_at: Set(made),
            sends: Set(1),
            expires_at: Set(made + Duration::hours(24)),
            password_set_at: Set(None),
            accepted_at: Set(None),
            revoked_at: Set(Some(made + Duration::hours(1))),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn pending_phone(&self, sent: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        phone::Entity::insert(phone::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            user_id: Set(self.who),
            name: Set("Phone".into()),
            number: Set("+15550100".into()),
            confirmed_at: Set(None),
            code_hash: Set(Some("sha256".into())),
            code_expires_at: Set(Some(sent + Duration::minutes(domain::factors::phones::CODE_VALID_MINUTES))),
            code_attempts: Set(0),
            code_sent_at: Set(Some(sent)),
            codes_sent: Set(1),
            last_used_at: Set(None),
            created_at: Set(sent),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }

    async fn login_with_code(&self, made: DateTime<Utc>) -> Uuid {
        let id = Uuid::new_v4();
        server_login::Entity::insert(server_login::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tenant),
            server_id: Set(Uuid::new_v4()),
            server_name: Set("web-01".into()),
            account: Set("deploy".into()),
            source_ip: Set("198.51.100.7".into()),
            source_block: Set("198.51.100.7".into()),
            service: Set("sshd".into()),
            method: Set(proto::login::LoginMethod::None),
            number: Set(0),
            stage: Set(proto::login::LoginStage::Done),
            code_hash: Set(Some("sha256".into())),
            code_sent_at: Set(Some(made)),
            code_expires_at: Set(Some(made + Duration::minutes(10))),
            attempts: Set(0),
            result: Set(Some(proto::login::LoginResult::Denied)),
            reason: Set("wrong code".into()),
            offline: Set(false),
            end_user_id: Set(Some(self.who)),
            created_at: Set(made),
            finished_at: Set(Some(made)),
        })
        .exec_without_returning(&self.app.ctx.db)
        .await
        .unwrap();
        id
    }
}

async fn exists<E>(w: &World, id: Uuid) -> bool
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    E::find_by_id(id).one(&w.app.ctx.db).await.unwrap().is_some()
}

/// Each table: a row past its keep time goes, one within it stays.
async fn spent_rows_go_and_recent_ones_stay(backend: Backend) {
    let w = World::new(backend).await;
    let now = w.now;
    let day = Duration::hours(domain::retention::SPENT_AFTER_HOURS);
    let (old, recent) = (now - day - Duration::hours(1), now - Duration::minutes(30));
    let codes = (w.login_code(old).await, w.login_code(recent).await);
    let nonces = (w.nonce(old).await, w.nonce(recent).await);
    let ceremonies = (w.ceremony(old).await, w.ceremony(recent).await);
    let wrong = (w.wrong_code(old).await, w.wrong_code(recent).await);
    let step_ups = (w.step_up(old).await, w.step_up(recent).await);
    let mutes = (w.mute(old).await, w.mute(now + Duration::minutes(5)).await);
    // Push requests keep the retention period, like the login audit; their claims a day.
    let period = Retention::default().0;
    let requests = (
        w.push_request(now - period - Duration::minutes(1)).await,
        w.push_request(now - period + Duration::hours(1)).await,
    );
    let recent_request = w.push_request(recent).await;
    // Invitations: the old ones go, the person's newest stays however old.
    let invitations = (
        w.invitation(now - period - Duration::days(5)).await,
        w.invitation(now - period - Duration::days(3)).await,
        w.invitation(now - period - Duration::days(2)).await,
    );
    let phones = (w.pending_phone(now - period - Duration::days(1)).await, w.pending_phone(old).await);
    let fresh_phone = w.pending_phone(recent).await;
    let logins = (w.login_with_code(old).await, w.login_with_code(recent).await);

    // What went is read from the rows, not from this pass's counts: the console's own purge at
    // start-up may run late on a busy machine and take some of them first.
    purge(&w.app.ctx, Retention::default()).await.unwrap();

    for (what, (o, r), (gone, kept)) in [
        (
            "login code",
            codes,
            (exists::<login_code::Entity>(&w, codes.0).await, exists::<login_code::Entity>(&w, codes.1).await),
        ),
        (
            "nonce",
            nonces,
            (
                exists::<login_code_nonce::Entity>(&w, nonces.0).await,
                exists::<login_code_nonce::Entity>(&w, nonces.1).await,
            ),
        ),
        (
            "ceremony",
            ceremonies,
            (
                exists::<passkey_ceremony::Entity>(&w, ceremonies.0).await,
                exists::<passkey_ceremony::Entity>(&w, ceremonies.1).await,
            ),
        ),
        (
            "wrong code",
            wrong,
            (
                exists::<console_wrong_code::Entity>(&w, wrong.0).await,
                exists::<console_wrong_code::Entity>(&w, wrong.1).await,
            ),
        ),
        (
            "step-up",
            step_ups,
            (
                exists::<factor_step_up::Entity>(&w, step_ups.0).await,
                exists::<factor_step_up::Entity>(&w, step_ups.1).await,
            ),
        ),
        (
            "mute",
            mutes,
            (exists::<push_mute::Entity>(&w, mutes.0).await, exists::<push_mute::Entity>(&w, mutes.1).await),
        ),
        (
            "push request",
            requests,
            (
                exists::<push_request::Entity>(&w, requests.0).await,
                exists::<push_request::Entity>(&w, requests.1).await,
            ),
        ),
        (
            "pending phone",
            phones,
            (exists::<phone::Entity>(&w, phones.0).await, exists::<phone::Entity>(&w, phones.1).await),
        ),
    ] {
        assert!(!gone, "the old {what} {o} is purged");
        assert!(kept, "the recent {what} {r} is kept");
    }
    // The month-old request's claim went (a day old); the recent request keeps its claim.
    assert!(!exists::<push_notification::Entity>(&w, requests.1).await);
    assert!(exists::<push_notification::Entity>(&w, recent_request).await);
    assert!(
        !exists::<invitation::Entity>(&w, invitations.0).await
            && !exists::<invitation::Entity>(&w, invitations.1).await
    );
    assert!(exists::<invitation::Entity>(&w, invitations.2).await, "the newest invitation stays");
    // Code hashes: cleared a day after the code expired, not before; the rows stay.
    let db = &w.app.ctx.db;
    let hash_of_login =
        |id| async move { server_login::Entity::find_by_id(id).one(db).await.unwrap().unwrap().code_hash };
    assert_eq!(hash_of_login(logins.0).await, None);
    assert!(hash_of_login(logins.1).await.is_some());
    let phone_hash = |id| async move { phone::Entity::find_by_id(id).one(db).await.unwrap().unwrap().code_hash };
    assert_eq!(phone_hash(phones.1).await, None, "the day-old phone stays pending, its code gone");
    assert!(phone_hash(fresh_phone).await.is_some());

    // A second pass finds nothing more.
    let again = purge(&w.app.ctx, Retention::default()).await.unwrap();
    assert_eq!(again, domain::retention::Purged::default(), "{again:?}");
}
on_both_databases!(spent_rows_go_and_recent_ones_stay, super::spent_rows_go_and_recent_ones_stay);

/// A purge never lets a limit through early: the password resets an address asked for, and the
/// "Get a code" codes of the last hour, still count after it; a day later they are gone.
async fn purges_do_not_weaken_limits(backend: Backend) {
    let w = World::new(backend).await;
    let ctx = &w.app.ctx;
    for n in 0..domain::console_auth::RESETS_PER_ADDRESS {
        domain::console_auth::request_reset(ctx, "nobody@retention.test", &format!("203.0.113.{n}")).await.unwrap();
        w.app.clock.advance(Duration::minutes(10));
    }
    for _ in 0..domain::push::codes::PER_HOUR {
        w.login_code(w.app.clock.now()).await;
    }
    purge(ctx, Retention::default()).await.unwrap();
    let refused = domain::console_auth::request_reset(ctx, "nobody@retention.test", "203.0.113.99").await;
    assert!(matches!(refused, Err(DomainError::RateLimited(_))), "{refused:?}");
    assert_eq!(
        login_code::Entity::find().count(&ctx.db).await.unwrap(),
        domain::push::codes::PER_HOUR,
        "codes within the hour's limit are kept"
    );
    assert_eq!(password_reset::Entity::find().count(&ctx.db).await.unwrap(), domain::console_auth::RESETS_PER_ADDRESS);

    // Past the window and the day after it, they are gone and the address may ask again.
    w.app.clock.advance(Duration::hours(domain::retention::SPENT_AFTER_HOURS + 1));
    let purged = purge(ctx, Retention::default()).await.unwrap();
    assert_eq!(purged.password_resets, domain::console_auth::RESETS_PER_ADDRESS, "{purged:?}");
    assert_eq!(purged.login_codes, domain::push::codes::PER_HOUR, "{purged:?}");
    domain::console_auth::request_reset(ctx, "nobody@retention.test", "203.0.113.99").await.unwrap();
}
on_both_databases!(purges_do_not_weaken_limits, super::purges_do_not_weaken_limits);
