//! Pieces shared by pages.

pub mod filters;
pub mod install;
pub mod layout;
pub mod poll;
pub mod status;
