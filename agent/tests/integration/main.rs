//! Integration tests of the agent: real files in a sandbox root, the real sshd, and a stand-in
//! console over HTTP.

// Test code: a panic is a failed test, which is what an unexpected error there should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apply;
mod console;
mod facts;
mod login;
mod sandbox;
