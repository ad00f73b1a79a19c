//! One module per page, in folders named after the console's menus.

pub mod account_settings;
pub mod admin;
pub mod audit;
pub mod home;
pub mod hss;
pub mod iam;
pub mod invite;
pub mod not_found;
pub mod password_reset;
pub mod portal;
pub mod signin;
pub mod signin_code;
pub mod smn;
