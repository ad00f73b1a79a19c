//! Pieces shared by pages.

pub mod layout;
pub mod poll;
pub mod status;
