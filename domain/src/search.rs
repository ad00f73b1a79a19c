//! Substring search that behaves the same on SQLite and PostgreSQL: case-insensitive, and the
//! user's `%`, `_` and `\` are matched literally instead of acting as wildcards.

use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
    ColumnTrait,
};

pub fn contains<C: ColumnTrait>(column: C, text: &str) -> SimpleExpr {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column.as_column_ref()))).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}
