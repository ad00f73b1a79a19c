//! A small mutation fuzzer on stable Rust: takes a target's seed corpus, mutates its inputs
//! (bytes, tokens from the target's dictionary, whole lines spliced between inputs), and runs
//! each one on a worker thread. A panic is a crash; an input that does not return within the
//! per-input limit is a hang. Both are written to the artifacts directory for replay. It is not
//! coverage-guided (that needs nightly's sanitizer coverage); the structured seeds and
//! dictionaries stand in for it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One fuzz target: a function that must neither panic nor hang on any input.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Tokens worth inserting: keywords, separators, field names.
    pub dict: &'static [&'static str],
    /// Inputs longer than this are cut (the parsers' own limits sit below it).
    pub max_len: usize,
}

/// What a run found.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub execs: u64,
    pub crashes: u64,
    pub hangs: u64,
    /// The slowest input that returned.
    pub slowest: Duration,
    pub artifacts: Vec<PathBuf>,
}

/// The result of one input on the worker.
enum Outcome {
    Ok,
    Panic(String),
}

/// A worker thread that runs one target; a hung worker cannot be stopped, so the caller stops
/// fuzzing (and the process ends it).
struct Worker {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Outcome>,
}

impl Worker {
    fn start(run: fn(&[u8])) -> Worker {
        let (tx, inputs) = mpsc::channel::<Vec<u8>>();
        let (results, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new().name(WORKER.into()).spawn(move || {
            for input in inputs {
                let outcome = match catch_unwind(AssertUnwindSafe(|| run(&input))) {
                    Ok(()) => Outcome::Ok,
                    Err(e) => Outcome::Panic(panic_text(&e)),
                };
                if results.send(outcome).is_err() {
                    break;
                }
            }
        });
        // Without a worker every input times out, which the caller reports as a hang.
        drop(spawned);
        Worker { tx, rx }
    }

    /// `None` when the input did not return within `limit` (or the worker is gone).
    fn run(&self, input: &[u8], limit: Duration) -> Option<Outcome> {
        self.tx.send(input.to_vec()).ok()?;
        self.rx.recv_timeout(limit).ok()
    }
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The name of the threads that run inputs.
const WORKER: &str = "fuzz-worker";

/// Panics of inputs are counted and saved, not printed one by one (a crash loop would flood the
/// output); other threads' panics (a test's own assertions) print as usual.
pub fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some(WORKER) {
            default(info);
        }
    }));
}

/// Runs `input` once with the per-input limit: `Ok(elapsed)`, or why it failed.
pub fn run_one(target: &Target, input: &[u8], limit: Duration) -> Result<Duration, String> {
    let worker = Worker::start(target.run);
    let started = Instant::now();
    match worker.run(input, limit) {
        Some(Outcome::Ok) => Ok(started.elapsed()),
        Some(Outcome::Panic(msg)) => Err(format!("panic: {msg}")),
        None => Err(format!("hang: no answer within {limit:?}")),
    }
}

/// Loads every file of `dir` (sorted by name), skipping dotfiles.
pub fn load_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files.into_iter().filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b))).collect()
}

/// Fuzzes `target` for `budget`, starting from `seeds`. Stops at the first hang (its worker is
/// stuck); keeps going after crashes, saving each distinct one under `artifacts`.
pub fn fuzz(
    target: &Target,
    seeds: &[Vec<u8>],
    budget: Duration,
    limit: Duration,
    seed: u64,
    artifacts: &Path,
) -> Stats {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = Stats::default();
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mut worker = Worker::start(target.run);
    let mut seen_crashes: Vec<String> = Vec::new();
    let started = Instant::now();
    // Seeds first, as they are; slow ones are mutated less often (they would eat the budget).
    let mut next_seed = 0;
    let mut slow = vec![false; pool.len()];
    let mut last: Vec<u8> = Vec::new();
    while started.elapsed() < budget {
        let seed_index = (next_seed < pool.len()).then_some(next_seed);
        let input = match seed_index {
            Some(i) => {
                next_seed += 1;
                pool[i].clone()
            }
            None => {
                // Half the time keep mutating the last input, for changes deeper than one step.
                let base = if !last.is_empty() && rng.gen_bool(0.5) {
                    last.clone()
                } else {
                    let mut i = rng.gen_range(0..pool.len());
                    if slow[i] && rng.gen_bool(0.9) {
                        i = rng.gen_range(0..pool.len());
                    }
                    pool[i].clone()
                };
                mutate(&mut rng, base, &pool, target)
            }
        };
        let t0 = Instant::now();
        let outcome = worker.run(&input, limit);
        stats.execs += 1;
        match outcome {
            Some(Outcome::Ok) => {
                let took = t0.elapsed();
                stats.slowest = stats.slowest.max(took);
                // Slow inputs are not built on: the run would spend its budget on them.
                let fast = took < Duration::from_millis(10);
                if let Some(i) = seed_index {
                    slow[i] = !fast;
                }
                last = if fast { input } else { Vec::new() };
            }
            Some(Outcome::Panic(msg)) => {
                stats.crashes += 1;
                // One file per distinct message (line numbers included), so a crash loop stays small.
                if !seen_crashes.contains(&msg) {
                    seen_crashes.push(msg.clone());
                    if let Some(p) = save(artifacts, target.name, "crash", &input) {
                        eprintln!("{}: crash ({msg}) saved as {}", target.name, p.display());
                        stats.artifacts.push(p);
                    }
                }
                // A panic may leave a poisoned state behind; start afresh.
                worker = Worker::start(target.run);
                last.clear();
            }
            None => {
                stats.hangs += 1;
                if let Some(p) = save(artifacts, target.name, "hang", &input) {
                    eprintln!("{}: hang (over {limit:?}) saved as {}", target.name, p.display());
                    stats.artifacts.push(p);
                }
                break;
            }
        }
    }
    stats
}

fn save(dir: &Path, target: &str, kind: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).ok()?;
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("{kind}-{hash:016x}"));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Bytes that mean something to the parsers here: separators, quotes, wildcards, escapes.
const SPECIAL: &[u8] = b" \t\n\r\"'#=[]*?\\/.,;:{}-!^0\x00\xff";
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "65535",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e309",
    "99999999999999999999999",
];

/// Applies 1–6 random mutations to `input`.
fn mutate(rng: &mut StdRng, mut input: Vec<u8>, pool: &[Vec<u8>], target: &Target) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..=6) {
        let len = input.len();
        match rng.gen_range(0..14) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] = rng.gen();
            }
            2 => {
                let i = rng.gen_range(0..=len);
                input.insert(i, SPECIAL[rng.gen_range(0..SPECIAL.len())]);
            }
            3 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = (a + rng.gen_range(1..=16.min(len - a).max(1))).min(len);
                input.drain(a..b);
            }
            4 if len > 0 => {
                // Repeat a chunk, sometimes many times: long lines, deep nesting, many entries.
                let a = rng.gen_range(0..len);
                let b = (a + rng.gen_range(1..=64)).min(len);
                let chunk = input[a..b].to_vec();
                let times = if rng.gen_bool(0.1) { rng.gen_range(2..400) } else { rng.gen_range(1..4) };
                for _ in 0..times {
                    input.splice(b..b, chunk.iter().copied());
                }
            }
            5 | 6 if !target.dict.is_empty() => {
                let token = target.dict[rng.gen_range(0..target.dict.len())].as_bytes();
                let i = char_boundary(rng, &input);
                input.splice(i..i, token.iter().copied());
            }
            7 => {
                let token = NUMBERS[rng.gen_range(0..NUMBERS.len())].as_bytes();
                let i = char_boundary(rng, &input);
                input.splice(i..i, token.iter().copied());
            }
            8 | 9 => {
                // Line crossover: a line of another input replaces or joins one of this one.
                let other = &pool[rng.gen_range(0..pool.len())];
                let lines: Vec<&[u8]> = other.split(|&b| b == b'\n').collect();
                let line = lines[rng.gen_range(0..lines.len())].to_vec();
                let mut mine: Vec<Vec<u8>> = input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let i = rng.gen_range(0..mine.len());
                if rng.gen_bool(0.5) {
                    mine[i] = line;
                } else {
                    mine.insert(i, line);
                }
                input = mine.join(&b'\n');
            }
            10 if len > 1 => {
                // Drop or duplicate a whole line.
                let mut mine: Vec<Vec<u8>> = input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let i = rng.gen_range(0..mine.len());
                if rng.gen_bool(0.5) {
                    mine.remove(i);
                } else {
                    let l = mine[i].clone();
                    mine.insert(i, l);
                }
                input = mine.join(&b'\n');
            }
            11 => {
                // Splice: the head of this input and the tail of another.
                let other = &pool[rng.gen_range(0..pool.len())];
                let a = rng.gen_range(0..=len);
                let b = rng.gen_range(0..=other.len());
                input.truncate(a);
                input.extend_from_slice(&other[b..]);
            }
            12 if len > 0 => {
                input.truncate(rng.gen_range(0..len));
            }
            13 => {
                let c: char = char::from_u32(rng.gen_range(0x80..0x11_0000)).unwrap_or('\u{fffd}');
                let i = char_boundary(rng, &input);
                let mut buf = [0u8; 4];
                input.splice(i..i, c.encode_utf8(&mut buf).bytes());
            }
            _ => {}
        }
    }
    input.truncate(target.max_len);
    input
}

/// A random insertion point, preferring ones that keep UTF-8 text valid.
fn char_boundary(rng: &mut StdRng, input: &[u8]) -> usize {
    let i = rng.gen_range(0..=input.len());
    match std::str::from_utf8(input) {
        Ok(s) => (i..=input.len()).find(|&j| s.is_char_boundary(j)).unwrap_or(input.len()),
        Err(_) => i,
    }
}
