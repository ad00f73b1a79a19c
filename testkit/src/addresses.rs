//! Calls from other source addresses, for the per-address limits: a client bound to another
//! loopback address (all of 127.0.0.0/8 is local on Linux), which the console sees as the
//! caller's address.

use crate::TestApp;
use std::net::IpAddr;

impl TestApp {
    /// A client whose requests come from `local` (use with [`TestApp::try_run_via`]).
    pub fn client_from(&self, local: IpAddr) -> reqwest::Client {
        reqwest::Client::builder().local_address(local).build().expect("a client bound to a loopback address")
    }
}
