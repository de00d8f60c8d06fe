//! Mutated grid files never panic, hang or grow without bound: the repository's grid files and
//! one with every section (`search`, `early_stopping`, `program`, `metric`), each mutated
//! hundreds of times (a value replaced by a huge count, a NUL byte, a long string, a nested
//! object, a FIFO-like path; a key removed; a section added), are each either refused with an
//! error naming the file or planned, with at most `MAX_TRIALS` trials, in bounded time and
//! memory. Deterministic: the same mutations on every run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sweep::data::Corpus;
use sweep::spec::plan::MAX_TRIALS;
use sweep::spec::{GridSpec, Plan};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values a mutation puts in place of another.
fn replacements() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1_000_000_000_000_000_000u64),
        json!(u64::MAX),
        json!(-0.0),
        json!(1e308),
        json!(1e-320),
        json!(0.5),
        json!(""),
        json!("x"),
        json!("{"),
        json!("}"),
        json!("a\u{0}b"),
        json!("k".repeat(100_000)),
        json!("/dev/zero"),
        json!(".."),
        json!([]),
        json!([1, 1.0]),
        json!([0, -0.0]),
        json!((0..2000).collect::<Vec<_>>()),
        json!([[1], {"a": 1}]),
        json!({}),
        json!({"int": [0, u64::MAX]}),
        json!({"int": [1, 1_000_000_000]}),
        json!({"loguniform": [1e-300, 1e300]}),
        json!({"uniform": [0, 1]}),
        json!({"method": "random", "trials": 1_000_000_000_000_000_000u64, "seed": 0}),
        json!({"method": "tpe", "trials": 100_000, "startup": 100_000, "lag": 1}),
        json!({"method": "asha", "min_steps": 1, "eta": 2}),
        json!({"method": "async_hyperband", "min_steps": 0, "eta": 1_000_000}),
        json!({"command": ["python3", "{lr}}"], "env": {"A\u{0}": "b"}}),
        json!({"name": "val_loss", "mode": "max"}),
    ]
}

/// Every place in `value` (object keys and array items), as paths.
fn places(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                at.push(k.clone());
                out.push(at.clone());
                places(v, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate().take(8) {
                at.push(i.to_string());
                out.push(at.clone());
                places(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn slot<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Object(map) => map.get_mut(key),
        Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// One mutation of `seed`.
fn mutate(seed: &Value, rng: &mut Rng, pool: &[Value]) -> Value {
    let mut file = seed.clone();
    for _ in 0..1 + rng.below(3) {
        let mut all = Vec::new();
        places(&file, &mut Vec::new(), &mut all);
        match rng.below(6) {
            // Add a section or key at the top.
            0 => {
                let keys = [
                    "search",
                    "early_stopping",
                    "program",
                    "metric",
                    "seeds",
                    "corpus",
                ];
                let key = keys[rng.below(keys.len())];
                file[key] = pool[rng.below(pool.len())].clone();
            }
            // Remove a key.
            1 if !all.is_empty() => {
                let path = &all[rng.below(all.len())];
                let (last, parent) = path.split_last().unwrap();
                if let Some(Value::Object(map)) = slot(&mut file, parent) {
                    map.remove(last);
                }
            }
            // Replace a value.
            _ if !all.is_empty() => {
                let path = &all[rng.below(all.len())];
                if let Some(v) = slot(&mut file, path) {
                    *v = pool[rng.below(pool.len())].clone();
                }
            }
            _ => {}
        }
    }
    file
}

/// Reads and plans `path` as `sweep GRID --dry-run` does; panics are caught by the caller.
fn plan(path: &Path) -> Result<usize, String> {
    let spec = GridSpec::load(path).map_err(|e| e.to_string())?;
    let corpus = match spec.program {
        None => Some(Corpus::load(&spec.corpus).map_err(|e| e.to_string())?),
        Some(_) => None,
    };
    let plan = Plan::build(&spec, corpus.as_ref()).map_err(|e| e.to_string())?;
    Ok(plan.trials.len())
}

fn peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    usage.ru_maxrss as f64 / 1024.0
}

#[test]
fn mutated_grid_files_are_refused_or_planned_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let mut seeds: Vec<Value> = std::fs::read_dir(Path::new(ROOT).join("sweeps"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    seeds.push(json!({
        "name": "everything",
        "program": { "command": ["python3", "train.py", "{lr}"], "workdir": "." },
        "metric": { "name": "val_loss", "mode": "min" },
        "base": { "steps": 100 },
        "grid": { "lr": { "loguniform": [0.001, 0.1] }, "width": [1, 2, 4] },
        "seeds": [0, 1],
        "search": { "method": "tpe", "trials": 20, "seed": 0, "startup": 5, "lag": 2 },
        "early_stopping": { "method": "asha", "min_steps": 10, "eta": 3 }
    }));
    let pool = replacements();
    let mut rng = Rng(0x5eed_f00d);
    let (mut refused, mut planned, mut slowest) = (0, 0, Duration::ZERO);
    for case in 0..3000 {
        let file = mutate(&seeds[case % seeds.len()], &mut rng, &pool);
        let path = dir.path().join(format!("case{case}.json"));
        std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| plan(&path)));
        let took = started.elapsed();
        slowest = slowest.max(took);
        match outcome {
            Err(_) => panic!(
                "case {case} panicked: {}",
                std::fs::read_to_string(&path).unwrap()
            ),
            Ok(Err(message)) => {
                refused += 1;
                assert!(
                    message.len() < 2000,
                    "case {case}: an error of {} bytes: {}…",
                    message.len(),
                    message.chars().take(300).collect::<String>()
                );
            }
            Ok(Ok(trials)) => {
                planned += 1;
                assert!(trials <= MAX_TRIALS, "case {case}: {trials} trials");
            }
        }
        assert!(
            took < Duration::from_secs(20),
            "case {case} took {took:?}: {}",
            std::fs::read_to_string(&path).unwrap()
        );
    }
    assert!(
        refused > 100 && planned > 50,
        "{refused} refused, {planned} planned"
    );
    assert!(peak_rss_mb() < 1024.0, "peak memory {} MB", peak_rss_mb());
    eprintln!("{refused} refused, {planned} planned; slowest {slowest:?}");
}
