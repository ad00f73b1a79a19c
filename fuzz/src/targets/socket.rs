//! The line protocol on the PAM socket, as the agent reads it: one JSON request per line, at
//! most `MAX_LINE_BYTES`, anything else ends the login.

use std::time::Duration;

use proto::login::{ModuleRequest, MAX_ANSWER_CHARS};
use tokio::io::BufReader;

use super::bodies::block_on;

/// Everything the module could send on one connection, read request by request until the
/// agent would stop.
pub fn pam_socket(data: &[u8]) {
    block_on(async {
        // A small buffer too, so lines cross buffer boundaries.
        for capacity in [8 * 1024, 7] {
            let mut reader = BufReader::with_capacity(capacity, data);
            let until = tokio::time::Instant::now() + Duration::from_secs(5);
            for _ in 0..1000 {
                match agent::login::read_request(&mut reader, until).await {
                    Ok(Some(ModuleRequest::Start(start))) => {
                        let _ = serde_json::to_vec(&start);
                    }
                    Ok(Some(ModuleRequest::Answer { answer })) => {
                        let _ = proto::login::normalize_break_glass(&answer);
                        let _ = answer.chars().take(MAX_ANSWER_CHARS).count();
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
    });
}
