//! Fuzzing of the inputs HostGuard takes from hosts and the network (see README, "Fuzzing").
//! `corpus/<target>/` holds each target's seeds (kept in the repo and replayed by `cargo test
//! -p fuzz`); `scripts/fuzz.sh` runs every target for a time budget.

pub mod engine;
pub mod targets;

use std::path::PathBuf;

/// `fuzz/corpus`, where each target's seeds live.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}
