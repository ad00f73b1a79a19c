//! Integration tests of the agent: real files in a sandbox root, the real sshd, and a stand-in
//! console over HTTP.

mod apply;
mod console;
mod facts;
mod sandbox;
