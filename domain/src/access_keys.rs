//! Access keys (AK/SK pairs) for the HSS-compatible API, as on Huawei Cloud's "My Credentials":
//! a tenant admin creates at most two active keys, sees the secret half once, and revokes keys.
//! The secret is kept sealed (`seal`), not hashed, because checking a request signature needs it.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{access_key, tenant},
    error::{DomainError, DomainResult},
    seal::{open, seal, sealing_key, server_key},
};
use chrono::{DateTime, Duration, Utc};
use proto::AccessKeyStatus;
use rand::{rngs::OsRng, Rng};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use secrecy::SecretString;
use uuid::Uuid;

/// Huawei Cloud allows two access keys per user; so do we.
pub const MAX_ACTIVE_PER_USER: u64 = 2;
pub const AK_LEN: usize = 20;
pub const SK_LEN: usize = 40;
pub const DESCRIPTION_MAX: usize = 255;
/// `last_used_at` is written at most this often per key, so busy scripts cost no write per call.
pub const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// A key just created. `secret` is shown to its owner once and never again (and never in `Debug`).
#[derive(Clone, Debug)]
pub struct Created {
    pub key: access_key::Model,
    pub secret: SecretString,
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = OsRng;
    (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect()
}

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Creates a key for the calling tenant admin. Refused when they already have two active keys.
pub async fn create(ctx: &Ctx, caller: &Caller, actor: &Actor, description: &str) -> DomainResult<Created> {
    let tenant_id = caller.admin_tenant()?;
    let description = description.trim();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(DomainError::validation("description", format!("must be at most {DESCRIPTION_MAX} characters")));
    }
    if description.chars().any(|c| c.is_control()) {
        return Err(DomainError::validation("description", "must be one line without control characters"));
    }
    let server_key = sealing_key(ctx, "Access keys")?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    let active = access_key::Entity::find()
        .filter(access_key::Column::CreatedBy.eq(caller.user_id))
        .filter(access_key::Column::Status.eq(AccessKeyStatus::Active))
        .count(&txn)
        .await?;
    if active >= MAX_ACTIVE_PER_USER {
        return Err(DomainError::Conflict(format!(
            "You already have {active} active access keys, the most a user may have. Revoke one you no longer use, then create a new one."
        )));
    }
    let ak = random_string(AK_LEN, UPPER_DIGITS);
    let sk = random_string(SK_LEN, ALPHANUMERIC);
    let now = ctx.clock.now();
    let key = access_key::Entity::insert(access_key::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        created_by: Set(caller.user_id),
        access_key: Set(ak.clone()),
        secret_ciphertext: Set(seal(server_key, &ak, &sk)?),
        description: Set(description.to_owned()),
        status: Set(AccessKeyStatus::Active),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::AccessKeyCreate,
            target: ak,
            detail: format!("description {description:?}"),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Created { key, secret: SecretString::from(sk) })
}

/// The caller's own keys, newest first. The secret is never part of what this returns to a UI.
pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<access_key::Model>> {
    let tenant_id = caller.admin_tenant()?;
    Ok(access_key::Entity::find()
        .filter(access_key::Column::TenantId.eq(tenant_id))
        .filter(access_key::Column::CreatedBy.eq(caller.user_id))
        .order_by_desc(access_key::Column::CreatedAt)
        .order_by_asc(access_key::Column::AccessKey)
        .all(&ctx.db)
        .await?)
}

/// Revokes one of the caller's keys at once. Its encrypted secret is wiped: a revoked key can
/// never sign again. Revoking a revoked key changes nothing.
pub async fn revoke(ctx: &Ctx, caller: &Caller, actor: &Actor, id: Uuid) -> DomainResult<access_key::Model> {
    let tenant_id = caller.admin_tenant()?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    let key = access_key::Entity::find_by_id(id)
        .filter(access_key::Column::TenantId.eq(tenant_id))
        .filter(access_key::Column::CreatedBy.eq(caller.user_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("access key"))?;
    if key.status == AccessKeyStatus::Revoked {
        return Ok(key);
    }
    let now = ctx.clock.now();
    let mut am: access_key::ActiveModel = key.clone().into();
    am.status = Set(AccessKeyStatus::Revoked);
    am.revoked_at = Set(Some(now));
    am.secret_ciphertext = Set(String::new());
    let key = access_key::Entity::update(am).exec(&txn).await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::AccessKeyRevoke,
            target: key.access_key.clone(),
            detail: String::new(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(key)
}

/// Why an access key was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the access key {0} does not exist")]
    Unknown(String),
    #[error("the access key {0} has been revoked")]
    Revoked(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// A key that exists and is active: who acts with it and the secret to check its signature.
#[derive(Clone, Debug)]
pub struct KeyHolder {
    pub key: access_key::Model,
    /// A tenant admin of the key's tenant: the user who created the key.
    pub caller: Caller,
    pub secret: SecretString,
    /// The tenant's project id, which API paths must name.
    pub project_id: String,
}

/// Looks up an access key for a request. The signature is checked by the caller of this
/// function (it depends on the request); only then should it call [`record_use`].
pub async fn authenticate(ctx: &Ctx, access_key: &str) -> Result<KeyHolder, KeyError> {
    let unknown = || KeyError::Unknown(access_key.to_owned());
    if access_key.is_empty() || access_key.len() > 64 {
        return Err(unknown());
    }
    let key = access_key::Entity::find()
        .filter(access_key::Column::AccessKey.eq(access_key))
        .one(&ctx.db)
        .await
        .map_err(DomainError::from)?
        .ok_or_else(unknown)?;
    if key.status != AccessKeyStatus::Active {
        return Err(KeyError::Revoked(key.access_key));
    }
    // The key acts as the admin who made it, while that admin still administers the tenant.
    let caller = match crate::accounts::caller(ctx, key.created_by).await {
        Ok(c) if c.role == Role::TenantAdmin && c.tenant_id == Some(key.tenant_id) => c,
        Ok(_) | Err(DomainError::Unauthenticated) => return Err(KeyError::Revoked(key.access_key)),
        Err(e) => return Err(e.into()),
    };
    let server_key = server_key(ctx).ok_or_else(|| {
        DomainError::Internal("HOSTGUARD_SECRET_KEY is not set, so access keys cannot be checked".into())
    })?;
    let secret = open(server_key, &key.access_key, &key.secret_ciphertext)?;
    let project_id = tenant::Entity::find_by_id(key.tenant_id)
        .one(&ctx.db)
        .await
        .map_err(DomainError::from)?
        .ok_or_else(unknown)?
        .project_id;
    Ok(KeyHolder { key, caller, secret: SecretString::from(secret), project_id })
}

/// Notes that a key was used, unless that was already noted within the last minute.
pub async fn record_use(ctx: &Ctx, key: &access_key::Model) -> DomainResult<()> {
    let now: DateTime<Utc> = ctx.clock.now();
    if key.last_used_at.is_some_and(|at| now - at < LAST_USED_GRANULARITY) {
        return Ok(());
    }
    // One conditional statement: concurrent requests do not both write.
    access_key::Entity::update_many()
        .col_expr(access_key::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(access_key::Column::Id.eq(key.id))
        .filter(
            Condition::any()
                .add(access_key::Column::LastUsedAt.is_null())
                .add(access_key::Column::LastUsedAt.lt(now - LAST_USED_GRANULARITY)),
        )
        .exec(&ctx.db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        accounts,
        clock::{Clock, ManualClock},
        ctx::Ctx,
        entities::tenant,
    };
    use secrecy::ExposeSecret;
    use std::sync::Arc;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn generated_keys_have_huawei_shapes() {
        let ak = random_string(AK_LEN, UPPER_DIGITS);
        let sk = random_string(SK_LEN, ALPHANUMERIC);
        assert_eq!(ak.len(), 20);
        assert!(ak.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(sk.len(), 40);
        assert!(sk.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    struct World {
        ctx: Ctx,
        clock: ManualClock,
        admin: Caller,
        other: Caller,
        actor: Actor,
        _file: TempFile,
    }

    struct TempFile(std::path::PathBuf);
    impl Drop for TempFile {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    async fn world(secret_key: Option<[u8; 32]>) -> World {
        let path = std::env::temp_dir().join(format!("hg-access-keys-{}.db", Uuid::new_v4().simple()));
        let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let clock = ManualClock::new(Utc::now());
        let ctx = Ctx {
            secret_key: secret_key.map(|k| Arc::new(secrecy::SecretBox::new(Box::new(k)))),
            ..Ctx::for_tests(db, Arc::new(clock.clone()))
        };
        let mut callers = vec![];
        for name in ["acme", "globex"] {
            let t = tenant::Entity::insert(tenant::ActiveModel {
                id: Set(Uuid::new_v4()),
                name: Set(name.into()),
                project_id: Set(Uuid::new_v4().simple().to_string()),
                created_at: Set(clock.now()),
            })
            .exec_with_returning(&ctx.db)
            .await
            .unwrap();
            let u = accounts::create_user(
                &ctx,
                Some(t.id),
                &format!("admin@{name}.example"),
                "Admin",
                Role::TenantAdmin,
                "a long enough password 2026",
            )
            .await
            .unwrap();
            callers.push(accounts::caller(&ctx, u.id).await.unwrap());
        }
        let other = callers.pop().unwrap();
        let admin = callers.pop().unwrap();
        World { ctx, clock, admin, other, actor: Actor::new("test", "127.0.0.1"), _file: TempFile(path) }
    }

    #[tokio::test]
    async fn create_list_authenticate_revoke() {
        let w = world(Some(KEY)).await;
        let made = create(&w.ctx, &w.admin, &w.actor, "  deploy script ").await.unwrap();
        assert_eq!(made.key.description, "deploy script");
        assert!(!made.key.secret_ciphertext.contains(made.secret.expose_secret()), "stored encrypted");

        let listed = list(&w.ctx, &w.admin).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(list(&w.ctx, &w.other).await.unwrap().is_empty(), "another tenant sees nothing");

        let holder = authenticate(&w.ctx, &made.key.access_key).await.unwrap();
        assert_eq!(holder.secret.expose_secret(), made.secret.expose_secret());
        assert!(!format!("{holder:?}{made:?}").contains(made.secret.expose_secret()), "Debug hides the secret");
        assert_eq!(holder.caller, w.admin);

        assert!(matches!(authenticate(&w.ctx, "NOSUCHKEY").await, Err(KeyError::Unknown(_))));

        assert!(matches!(revoke(&w.ctx, &w.other, &w.actor, made.key.id).await, Err(DomainError::NotFound(_))));
        let revoked = revoke(&w.ctx, &w.admin, &w.actor, made.key.id).await.unwrap();
        assert_eq!(revoked.status, AccessKeyStatus::Revoked);
        assert!(revoked.secret_ciphertext.is_empty(), "the secret is wiped");
        assert!(matches!(authenticate(&w.ctx, &made.key.access_key).await, Err(KeyError::Revoked(_))));
    }

    #[tokio::test]
    async fn at_most_two_active_keys_per_user() {
        let w = world(Some(KEY)).await;
        let first = create(&w.ctx, &w.admin, &w.actor, "").await.unwrap();
        create(&w.ctx, &w.admin, &w.actor, "").await.unwrap();
        let err = create(&w.ctx, &w.admin, &w.actor, "").await.unwrap_err();
        assert!(err.to_string().contains("2 active access keys"), "{err}");
        revoke(&w.ctx, &w.admin, &w.actor, first.key.id).await.unwrap();
        create(&w.ctx, &w.admin, &w.actor, "").await.expect("room again after a revoke");
    }

    #[tokio::test]
    async fn without_a_server_key_creating_fails_naming_the_setting() {
        let w = world(None).await;
        let err = create(&w.ctx, &w.admin, &w.actor, "").await.unwrap_err();
        assert!(err.to_string().contains("HOSTGUARD_SECRET_KEY"), "{err}");
    }

    #[tokio::test]
    async fn bad_descriptions_are_refused() {
        let w = world(Some(KEY)).await;
        let err = create(&w.ctx, &w.admin, &w.actor, &"x".repeat(256)).await.unwrap_err();
        assert!(err.to_string().starts_with("description:"), "{err}");
        let err = create(&w.ctx, &w.admin, &w.actor, "a\u{7}b").await.unwrap_err();
        assert!(err.to_string().starts_with("description:"), "{err}");
    }

    #[tokio::test]
    async fn only_tenant_admins_have_keys() {
        let w = world(Some(KEY)).await;
        let operator = Caller { role: Role::Operator, tenant_id: None, ..w.admin.clone() };
        assert!(matches!(create(&w.ctx, &operator, &w.actor, "").await, Err(DomainError::Forbidden)));
    }

    #[tokio::test]
    async fn last_use_is_written_at_most_once_a_minute() {
        let w = world(Some(KEY)).await;
        let made = create(&w.ctx, &w.admin, &w.actor, "").await.unwrap();
        let used = |ctx: &Ctx| {
            let ctx = ctx.clone();
            let id = made.key.id;
            async move { access_key::Entity::find_by_id(id).one(&ctx.db).await.unwrap().unwrap() }
        };
        record_use(&w.ctx, &made.key).await.unwrap();
        let first = used(&w.ctx).await.last_used_at.unwrap();
        w.clock.advance(Duration::seconds(30));
        record_use(&w.ctx, &used(&w.ctx).await).await.unwrap();
        assert_eq!(used(&w.ctx).await.last_used_at.unwrap(), first);
        w.clock.advance(Duration::seconds(31));
        record_use(&w.ctx, &used(&w.ctx).await).await.unwrap();
        assert!(used(&w.ctx).await.last_used_at.unwrap() > first);
    }
}
