//! Substring search that behaves the same on SQLite and PostgreSQL: case-insensitive, and the
//! user's `%`, `_` and `\` are matched literally instead of acting as wildcards.

use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
    ColumnTrait, DbBackend,
};

fn pattern(text: &str) -> LikeExpr {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

pub fn contains<C: ColumnTrait>(column: C, text: &str) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column.as_column_ref()))).like(pattern(text))
}

/// The same match as [`contains`], written so `backend` can answer it fast. SQLite's LIKE
/// already ignores case for ASCII letters, and without ICU its `lower()` folds nothing else, so
/// comparing the column as stored matches exactly the same rows, while sparing a `lower()` call
/// per row and letting a covering index answer. PostgreSQL's LIKE is case-sensitive, so it
/// compares `lower(column)`, which its trigram indexes cover.
pub fn contains_on<C: ColumnTrait>(backend: DbBackend, column: C, text: &str) -> SimpleExpr {
    match backend {
        DbBackend::Sqlite => Expr::col(column.as_column_ref()).like(pattern(text)),
        _ => contains(column, text),
    }
}

/// Whether `text` can match part of a server's `ip` as [`contains`] compares them: the column
/// holds an address that parsed as `std::net::IpAddr` (`agents::facts`, `servers::create`), so
/// hex digits, `.` and `:` only. A search with any other character (`web`, a name) can skip
/// the address, which halves the per-row work of a search that reads many rows.
pub fn may_match_ip(text: &str) -> bool {
    text.to_lowercase().chars().all(|c| matches!(c, '0'..='9' | 'a'..='f' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::may_match_ip;

    #[test]
    fn only_what_an_address_can_hold_may_match_one() {
        for text in ["10.0.1.", "FE80::", "::ffff:10.1", "a", "0", ":"] {
            assert!(may_match_ip(text), "{text}");
        }
        for text in ["web", "acme", "10.0.1.%", "_", " 10", "g", "fe80::1%eth0", "\u{212A}"] {
            assert!(!may_match_ip(text), "{text}");
        }
    }
}
