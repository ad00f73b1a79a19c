//! Pieces shared by pages.

pub mod dialog;
pub mod filters;
pub mod install;
pub mod layout;
pub mod logins;
pub mod poll;
pub mod status;
pub mod urn;
