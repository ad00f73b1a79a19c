//! Replays every kept input (`fuzz/corpus/<target>/`) through its target: none may panic, and
//! each must return within the per-input limit. Fast (seconds), so CI guards the fixes.

use std::time::Duration;

use fuzz::engine;
use fuzz::targets::TARGETS;

#[test]
fn every_kept_input_passes() {
    engine::quiet_panics();
    let mut failures = Vec::new();
    let mut count = 0;
    for t in TARGETS {
        let inputs = engine::load_dir(&fuzz::corpus_dir().join(t.name));
        assert!(!inputs.is_empty(), "{} has no corpus", t.name);
        for (path, input) in inputs {
            count += 1;
            if let Err(e) = engine::run_one(t, &input, Duration::from_secs(10)) {
                failures.push(format!("{}: {}: {e}", t.name, path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} inputs failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_engine_runs_each_target() {
    // A short run per target from its corpus: the harness itself works.
    engine::quiet_panics();
    let dir = tempfile::tempdir().unwrap();
    for t in TARGETS {
        let seeds: Vec<Vec<u8>> =
            engine::load_dir(&fuzz::corpus_dir().join(t.name)).into_iter().map(|(_, b)| b).collect();
        let stats = engine::fuzz(t, &seeds, Duration::from_millis(300), Duration::from_secs(10), 1, dir.path());
        assert!(stats.execs > 0, "{}", t.name);
        assert_eq!((stats.crashes, stats.hangs), (0, 0), "{}: {:?}", t.name, stats.artifacts);
    }
}
