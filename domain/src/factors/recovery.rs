//! Recovery codes: [`CODES`] single-use codes for when the phone is not at hand, shown once when
//! generated, kept as hashes. Generating a new set replaces the old one.

use super::{
    end_user,
    guard::{self, SessionRef},
    lock_user,
};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::recovery_code,
    error::DomainResult,
};
use chrono::{DateTime, Utc};
use rand::{rngs::OsRng, Rng};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

/// Codes in a set.
pub const CODES: usize = 10;
/// Characters in a code: 16 of base32's 32, 80 random bits, enough for a plain hash.
const LEN: usize = 16;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// How many unused codes a user has, and when the set was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub left: u64,
    pub generated_at: Option<DateTime<Utc>>,
}

/// A code as typed, compared loosely: case, dashes and spaces do not matter, and the digits
/// base32 leaves out read as the letters they look like (0 as O, 1 as I, 8 as B). `None` for
/// anything that cannot be a recovery code.
pub(crate) fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '1' => 'I',
            '8' => 'B',
            c => c,
        })
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The stored hash, bound to its user: a code is only ever good for the user it was made for.
fn hash(user_id: Uuid, normalized: &str) -> String {
    crate::tokens::hash_token(&format!("{user_id}:{normalized}"))
}

/// `XXXX-XXXX-XXXX-XXXX`.
fn shown(code: &str) -> String {
    code.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

pub(crate) async fn left<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<u64> {
    Ok(recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(conn)
        .await?)
}

/// The caller's recovery codes: how many are left.
pub async fn status(ctx: &Ctx, caller: &Caller) -> DomainResult<Status> {
    let (user_id, _) = end_user(caller)?;
    let newest = recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .order_by_desc(recovery_code::Column::CreatedAt)
        .one(&ctx.db)
        .await?;
    Ok(Status { left: left(&ctx.db, user_id).await?, generated_at: newest.map(|c| c.created_at) })
}

/// A new set of codes for the caller, shown this once; the old set stops working. Audited and
/// mailed to the user. Needs a fresh step-up in `session` (or, for a first factor, the
/// invitation's own pages; it then uses the invitation up).
pub async fn generate(ctx: &Ctx, caller: &Caller, actor: &Actor, session: SessionRef) -> DomainResult<Vec<String>> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let permit = guard::permit(&txn, user_id, session, now).await?;
    recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(&txn).await?;
    let mut codes = Vec::with_capacity(CODES);
    let mut rows = Vec::with_capacity(CODES);
    for _ in 0..CODES {
        let code: String = (0..LEN).map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char).collect();
        rows.push(recovery_code::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            user_id: Set(user_id),
            code_hash: Set(hash(user_id, &code)),
            created_at: Set(now),
            used_at: Set(None),
        });
        codes.push(shown(&code));
    }
    recovery_code::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorRecoveryCodesGenerated,
            target: caller.email.clone(),
            detail: format!("{CODES} new recovery codes; the earlier ones no longer work"),
        },
    )
    .await?;
    guard::after_change(&txn, tenant_id, user_id, session, permit, actor, now).await?;
    let what = format!("{CODES} new recovery codes were made, and any earlier ones stopped working");
    guard::tell(ctx, &txn, tenant_id, &caller.email, what, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(codes)
}

/// At a login: spends the user's unused recovery code `typed`, if it is one. One conditional
/// UPDATE, so a code works once even for two logins at the same moment.
pub(crate) async fn use_code<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    typed: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let Some(code) = normalize(typed) else { return Ok(false) };
    let spent = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(now)))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::CodeHash.eq(hash(user_id, &code)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(spent.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_shown_in_fours_and_read_loosely() {
        assert_eq!(shown("ABCDEFGHJKLMNPQR"), "ABCD-EFGH-JKLM-NPQR");
        assert_eq!(normalize("abcd-efgh ijkl-mnop").as_deref(), Some("ABCDEFGHIJKLMNOP"));
        assert_eq!(normalize("ABCD-EFGH-IJKL-MNO"), None, "too short");
        assert_eq!(normalize("ABCD-EFGH-IJKL-MN01").as_deref(), Some("ABCDEFGHIJKLMNOI"), "0 and 1 read as O and I");
        assert_eq!(normalize("ABCD-EFGH-IJKL-MNO9"), None, "9 is not base32");
        assert_eq!(normalize("123456"), None, "an app code is not a recovery code");
    }

    #[test]
    fn hashes_are_bound_to_their_user() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(hash(a, "ABCDEFGHIJKLMNOP"), hash(a, "ABCDEFGHIJKLMNOP"));
        assert_ne!(hash(a, "ABCDEFGHIJKLMNOP"), hash(b, "ABCDEFGHIJKLMNOP"));
    }
}
