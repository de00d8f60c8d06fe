//! `sweep serve` under load: 50 clients following a running sweep as the page does (the sweep
//! and the trials every second, each client's curve read on with `since`) for 60 s. Reports the
//! sweep's training throughput against the same sweep with no server (side by side, on the
//! same machine), the server's peak memory and the API's latency. Run with `bench/serve.sh`
//! (`cargo bench --bench serve_load`); `CLIENTS=N`, `SECONDS=N`, `JOBS=N` change the load.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A sweep that trains for about `seconds` on this 2-core machine (about 250 steps/s per trial):
/// `jobs` trials of hidden 200, batch 32.
fn grid(dir: &Path, seconds: usize, jobs: usize) -> PathBuf {
    let path = dir.join("load.json");
    let seeds: Vec<String> = (0..jobs).map(|s| s.to_string()).collect();
    std::fs::write(
        &path,
        format!(
            r#"{{ "name": "load",
  "base": {{ "hidden": 200, "batch_size": 32, "steps": {}, "eval_every": 100 }},
  "seeds": [{}] }}"#,
            seconds * 250,
            seeds.join(", ")
        ),
    )
    .unwrap();
    path
}

fn sweep(grid: &Path, out: &Path, jobs: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg(grid)
        .arg("--out")
        .arg(out)
        .args(["--jobs", &jobs.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Mean steps/s of the trials in `out`'s trials.csv.
fn throughput(out: &Path) -> f64 {
    let mut r = csv::Reader::from_path(out.join("trials.csv")).unwrap();
    let rates: Vec<f64> = r
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|row| row.unwrap()["steps_per_sec"].parse().unwrap())
        .collect();
    rates.iter().sum::<f64>() / rates.len() as f64
}

/// `GET path` on `host`: the body, and how long it took.
fn get(host: &str, path: &str) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(host).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((body, started.elapsed()))
}

/// The peak resident memory of process `pid` (VmHWM), in MiB.
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let clients = env("CLIENTS", 50);
    let seconds = env("SECONDS", 60);
    let jobs = env("JOBS", 2);
    let work = tempfile::tempdir().unwrap();
    let grid = grid(work.path(), seconds, jobs);

    // Alone.
    let alone = work.path().join("alone");
    let status = sweep(&grid, &alone, jobs).wait().unwrap();
    assert!(status.success());
    let base = throughput(&alone);

    // Followed by the clients.
    let followed = work.path().join("followed");
    let mut running = sweep(&grid, &followed, jobs);
    while !followed.join("sweep.json").exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("serve")
        .arg(&followed)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        use std::io::BufRead;
        std::io::BufReader::new(server.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
    }
    let host = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let done = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (host, done) = (host.clone(), Arc::clone(&done));
            let (latencies, failures) = (Arc::clone(&latencies), Arc::clone(&failures));
            std::thread::spawn(move || {
                let mut since = 0u64;
                let mut trial = None;
                // Spread the clients over the second, as independent browsers are.
                std::thread::sleep(Duration::from_millis((c * 1000 / clients.max(1)) as u64));
                while !done.load(Ordering::Relaxed) {
                    let tick = Instant::now();
                    let mut paths = vec!["/api/sweep".to_string(), "/api/trials".to_string()];
                    if let Some(id) = &trial {
                        paths.push(format!("/api/curves?trial={id}&since={since}"));
                    }
                    for path in paths {
                        match get(&host, &path) {
                            Some((body, took)) => {
                                latencies.lock().unwrap().push(took);
                                let v: serde_json::Value =
                                    serde_json::from_str(&body).unwrap_or_default();
                                if path == "/api/trials" && trial.is_none() {
                                    trial = v["trials"][c % jobs]["id"].as_str().map(String::from);
                                }
                                if let Some(last) = v["last_step"].as_u64() {
                                    since = last;
                                }
                            }
                            None => *failures.lock().unwrap() += 1,
                        }
                    }
                    std::thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
                }
            })
        })
        .collect();
    let status = running.wait().unwrap();
    assert!(status.success());
    let peak = peak_mib(server.id());
    done.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let _ = server.kill();
    let _ = server.wait();
    let with = throughput(&followed);

    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    let at = |q: f64| l[((l.len() as f64 * q) as usize).min(l.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{jobs} trials of {} steps (hidden 200, batch 32), {clients} clients, one poll a second each\n",
        seconds * 250
    );
    println!("| | value |");
    println!("|---|---|");
    println!("| training throughput alone | {base:.1} steps/s per trial |");
    println!(
        "| with the clients following | {with:.1} steps/s per trial ({:+.1}%) |",
        100.0 * (with / base - 1.0)
    );
    println!("| server peak memory (VmHWM) | {peak:.1} MiB |");
    println!(
        "| API requests | {} ({} failed) |",
        l.len(),
        failures.lock().unwrap()
    );
    println!(
        "| latency p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
