//! `hostguard-fuzz [--seconds N] [--timeout-ms M] [--seed S] [TARGET...]`: fuzzes each target
//! (all by default) for N seconds from its corpus and prints executions, crashes and hangs.
//! Exits 1 if any target crashed or hung; the inputs are saved under `fuzz/artifacts/<target>/`.
//! `hostguard-fuzz --replay FILE TARGET` runs one saved input.

use std::process::ExitCode;
use std::time::Duration;

use fuzz::engine;
use fuzz::targets::{by_name, TARGETS};

fn main() -> ExitCode {
    let mut seconds = 600u64;
    let mut timeout_ms = 5000u64;
    let mut seed: Option<u64> = None;
    let mut replay: Option<String> = None;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> Option<u64> {
            let v = args.next().and_then(|v| v.parse().ok());
            if v.is_none() {
                eprintln!("{what} takes a number");
            }
            v
        };
        match arg.as_str() {
            "--seconds" => match number("--seconds") {
                Some(v) => seconds = v,
                None => return ExitCode::from(2),
            },
            "--timeout-ms" => match number("--timeout-ms") {
                Some(v) => timeout_ms = v,
                None => return ExitCode::from(2),
            },
            "--seed" => match number("--seed") {
                Some(v) => seed = Some(v),
                None => return ExitCode::from(2),
            },
            "--replay" => replay = args.next(),
            "--list" => {
                TARGETS.iter().for_each(|t| println!("{}", t.name));
                return ExitCode::SUCCESS;
            }
            name => names.push(name.to_owned()),
        }
    }
    let limit = Duration::from_millis(timeout_ms);
    let targets: Vec<_> = if names.is_empty() {
        TARGETS.iter().collect()
    } else {
        let mut found = Vec::new();
        for n in &names {
            match by_name(n) {
                Some(t) => found.push(t),
                None => {
                    eprintln!(
                        "no target {n}; targets: {}",
                        TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(" ")
                    );
                    return ExitCode::from(2);
                }
            }
        }
        found
    };
    engine::quiet_panics();

    if let Some(file) = replay {
        let Ok(input) = std::fs::read(&file) else {
            eprintln!("cannot read {file}");
            return ExitCode::from(2);
        };
        let mut failed = false;
        for t in targets {
            match engine::run_one(t, &input, limit) {
                Ok(took) => println!("{}: ok in {took:?}", t.name),
                Err(e) => {
                    println!("{}: {e}", t.name);
                    failed = true;
                }
            }
        }
        return if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }

    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    });
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    println!("seed {seed}, {seconds} s per target, {timeout_ms} ms per input");
    println!(
        "{:<16} {:>6} {:>10} {:>9} {:>8} {:>6} {:>12}",
        "target", "seeds", "execs", "execs/s", "crashes", "hangs", "slowest"
    );
    let mut failed = false;
    for t in targets {
        let seeds: Vec<Vec<u8>> =
            engine::load_dir(&fuzz::corpus_dir().join(t.name)).into_iter().map(|(_, b)| b).collect();
        let started = std::time::Instant::now();
        let stats = engine::fuzz(t, &seeds, Duration::from_secs(seconds), limit, seed, &artifacts);
        let rate = stats.execs as f64 / started.elapsed().as_secs_f64().max(0.001);
        println!(
            "{:<16} {:>6} {:>10} {:>9.0} {:>8} {:>6} {:>10.1}ms",
            t.name,
            seeds.len(),
            stats.execs,
            rate,
            stats.crashes,
            stats.hangs,
            stats.slowest.as_secs_f64() * 1000.0
        );
        failed |= stats.crashes > 0 || stats.hangs > 0;
        if stats.hangs > 0 {
            // The hung worker thread cannot be stopped; a target after it would share the CPU.
            println!("stopping: a hang leaves its worker running");
            return ExitCode::FAILURE;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
