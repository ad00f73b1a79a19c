//! Pieces shared by pages.

pub mod account_switcher;
pub mod dialog;
pub mod form;
pub mod get_code;
pub mod hydration;
pub mod install;
pub mod layout;
pub mod list;
pub mod logins;
pub mod passkey;
pub mod poll;
pub mod push_notifications;
pub mod resource;
pub mod status;
pub mod urn;
