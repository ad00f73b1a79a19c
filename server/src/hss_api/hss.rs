//! HSS v5 two-factor login: ListTwoFactorLoginHost and SetTwoFactorLoginConfig.

use axum::Router;
use domain::Ctx;

pub fn routes() -> Router<Ctx> {
    Router::new()
}
