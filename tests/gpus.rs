//! Trials placed on GPUs, tested without one: a program that records what
//! `CUDA_VISIBLE_DEVICES` and `SWEEP_GPUS` it was given and when it ran shows that no GPU ever
//! holds more trials than its share allows, that each trial sees only its place, and that
//! `--jobs` and the GPUs together bound how many run at once; bad input is a clear error before
//! anything runs. `--gpus all` and the check of named ids ask `nvidia-smi`: a script of that
//! name on PATH stands in for the driver's tool. Without `python3` each test says so and passes,
//! unless `REQUIRE_PYTHON=1`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{python_available, Run, Workspace};
use serde_json::{json, Value};

/// The program: `steps` metric lines `delay_s` apart (a checkpoint at each, so a retry or a
/// promotion continues), and one line in `$GPU_LOG` per run: its trial, the GPUs it was given
/// and when it started and ended. `fail_once` exits by SIGKILL the first time it runs; the
/// trial with lr `$OOM_AT_LR` and seed 0 fails the first time with PyTorch's out-of-memory
/// error.
const PROGRAM: &str = r#"
import json, os, signal, sys, time
start = time.time()
params = json.loads(os.environ["SWEEP_PARAMS"])
steps = int(os.environ["SWEEP_STEPS"])
first = int(os.environ.get("SWEEP_RESUME_STEP", "0")) + 1
work = os.path.normpath(os.environ["SWEEP_TRIAL_DIR"])
marker = os.path.join(work, "ran-once")
if params.get("fail_once") and not os.path.exists(marker):
    open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)
oom = os.environ.get("OOM_AT_LR")
if oom and params["lr"] == float(oom) and params["seed"] == 0 and not os.path.exists(marker):
    open(marker, "w").close()
    print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
    sys.exit(1)
for step in range(first, steps + 1):
    time.sleep(params["delay_s"])
    loss = 1.0 / (params["lr"] * step + 1.0) + 0.001 * params["seed"]
    print(json.dumps({"step": step, "val_loss": loss}), flush=True)
    print(json.dumps({"checkpoint": step}), flush=True)
line = json.dumps({
    "trial": os.path.basename(os.path.dirname(work)),
    "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "sweep": os.environ.get("SWEEP_GPUS"),
    "start": start,
    "end": time.time(),
})
with open(os.environ["GPU_LOG"], "a") as f:
    f.write(line + "\n")
"#;

/// One run of the program, as it logged it.
#[derive(Debug, Clone)]
struct Ran {
    trial: String,
    cuda: Option<String>,
    sweep: Option<String>,
    start: f64,
    end: f64,
}

struct Setup {
    ws: Workspace,
    log: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let ws = Workspace::new();
        ws.write("train.py", PROGRAM);
        let log = ws.path("gpu-log.jsonl");
        Setup { ws, log }
    }

    /// A grid of 8 trials (4 learning rates × 2 seeds) with these top-level keys added.
    fn grid(&self, extra: Value) -> PathBuf {
        let mut grid = json!({
            "name": "gpus",
            "program": {
                "command": ["python3", "train.py"],
                "workdir": self.ws.dir.path(),
                "env": { "GPU_LOG": self.log, "PYTHONUNBUFFERED": "1" },
            },
            "metric": { "name": "val_loss", "mode": "min" },
            "base": { "steps": 3, "delay_s": 0.25 },
            "grid": { "lr": [0.1, 0.2, 0.3, 0.4] },
            "seeds": [0, 1],
        });
        for (k, v) in extra.as_object().unwrap() {
            grid[k] = v.clone();
        }
        self.ws.write("grid.json", grid.to_string())
    }

    /// `sweep GRID --out results ARGS...` with `path` first on PATH.
    fn sweep(&self, grid: &Path, args: &[&str], path: Option<&Path>) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sweep"));
        command
            .arg(grid)
            .arg("--out")
            .arg(self.ws.results())
            .args(args);
        if let Some(dir) = path {
            let old = std::env::var("PATH").unwrap_or_default();
            command.env("PATH", format!("{}:{old}", dir.display()));
        }
        Run(command.output().unwrap())
    }

    /// A folder holding an `nvidia-smi` that lists GPUs 0 and 1.
    fn fake_nvidia_smi(&self) -> PathBuf {
        let bin = self.ws.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let tool = bin.join("nvidia-smi");
        std::fs::write(&tool, "#!/bin/sh\necho 0\necho 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    fn ran(&self) -> Vec<Ran> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].as_str().map(String::from);
                Ran {
                    trial: s("trial").unwrap(),
                    cuda: s("cuda"),
                    sweep: s("sweep"),
                    start: v["start"].as_f64().unwrap(),
                    end: v["end"].as_f64().unwrap(),
                }
            })
            .collect()
    }
}

/// The most runs that overlapped in time, among `runs`.
fn most_at_once(runs: &[&Ran]) -> usize {
    let mut moments: Vec<(f64, i32)> = runs
        .iter()
        .flat_map(|r| [(r.start, 1), (r.end, -1)])
        .collect();
    // Ends before starts at the same instant.
    moments.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0, 0);
    for (_, d) in moments {
        now += d;
        most = most.max(now);
    }
    most as usize
}

/// The runs on each GPU id.
fn by_gpu(runs: &[Ran]) -> BTreeMap<String, Vec<&Ran>> {
    let mut map: BTreeMap<String, Vec<&Ran>> = BTreeMap::new();
    for r in runs {
        for id in r.cuda.as_deref().unwrap_or_default().split(',') {
            map.entry(id.to_string()).or_default().push(r);
        }
    }
    map
}

macro_rules! require_python {
    () => {
        if !python_available() {
            return;
        }
    };
}

#[test]
fn half_a_gpu_each_puts_two_trials_on_each_gpu_and_four_at_once() {
    require_python!();
    let s = Setup::new();
    let grid = s.grid(json!({"resources": {"gpus": 0.5}}));
    let run = s.sweep(&grid, &["--gpus", "0,1", "--jobs", "4"], None);
    run.expect_code(0);
    let ran = s.ran();
    assert_eq!(ran.len(), 8, "{ran:?}");
    for r in &ran {
        assert!(
            matches!(r.cuda.as_deref(), Some("0" | "1")),
            "each trial sees exactly one GPU: {r:?}"
        );
        assert_eq!(r.cuda, r.sweep, "SWEEP_GPUS names the same: {r:?}");
    }
    let gpus = by_gpu(&ran);
    assert_eq!(gpus.keys().collect::<Vec<_>>(), ["0", "1"]);
    for (id, runs) in &gpus {
        assert!(
            most_at_once(runs) <= 2,
            "GPU {id} held more than two: {runs:?}"
        );
    }
    let all: Vec<&Ran> = ran.iter().collect();
    assert_eq!(most_at_once(&all), 4, "four ran at once: {ran:?}");
    // trials.csv and the progress lines say where each ran.
    let rows = s.ws.csv("trials.csv");
    for row in &rows {
        let logged = ran.iter().find(|r| r.trial == row["id"]).unwrap();
        assert_eq!(Some(&row["gpus"]), logged.cuda.as_ref(), "{row:?}");
    }
    assert!(run.stderr().contains("runs on GPU 0"), "{}", run.stderr());
}

#[test]
fn whole_gpus_bound_how_many_run_at_once() {
    require_python!();
    // One GPU each: two at once on two GPUs, whatever --jobs says.
    let s = Setup::new();
    let grid = s.grid(json!({"resources": {"gpus": 1}}));
    s.sweep(&grid, &["--gpus", "0,1", "--jobs", "4"], None)
        .expect_code(0);
    let ran = s.ran();
    let all: Vec<&Ran> = ran.iter().collect();
    assert_eq!(most_at_once(&all), 2, "{ran:?}");
    for runs in by_gpu(&ran).values() {
        assert_eq!(most_at_once(runs), 1, "{runs:?}");
    }

    // Two GPUs each: one at a time, seeing both.
    let s = Setup::new();
    let grid = s.grid(json!({"resources": {"gpus": 2}}));
    s.sweep(&grid, &["--gpus", "0,1", "--jobs", "4"], None)
        .expect_code(0);
    let ran = s.ran();
    let all: Vec<&Ran> = ran.iter().collect();
    assert_eq!(most_at_once(&all), 1, "{ran:?}");
    assert!(
        ran.iter().all(|r| r.cuda.as_deref() == Some("0,1")),
        "{ran:?}"
    );

    // No `resources` but --gpus: one whole GPU each.
    let s = Setup::new();
    let grid = s.grid(json!({}));
    s.sweep(&grid, &["--gpus", "1", "--jobs", "3"], None)
        .expect_code(0);
    let ran = s.ran();
    assert!(
        ran.iter().all(|r| r.cuda.as_deref() == Some("1")),
        "{ran:?}"
    );
    let all: Vec<&Ran> = ran.iter().collect();
    assert_eq!(most_at_once(&all), 1);
}

#[test]
fn retries_and_early_stopping_keep_the_placement_rules() {
    require_python!();
    let s = Setup::new();
    // Every trial is killed by a signal once (retried from its checkpoint), and ASHA stops
    // some at a rung and promotes others, which go on wherever a place is free.
    let grid = s.grid(json!({
        "resources": {"gpus": 0.5},
        "base": { "steps": 9, "delay_s": 0.03, "fail_once": true },
        "early_stopping": { "method": "asha", "min_steps": 3, "eta": 3 },
        "max_retries": 2,
    }));
    let run = s.sweep(&grid, &["--gpus", "0,1", "--jobs", "4"], None);
    run.expect_code(0);
    let ran = s.ran();
    assert!(ran.len() > 8, "promotions ran again: {ran:?}");
    for (id, runs) in &by_gpu(&ran) {
        assert!(most_at_once(runs) <= 2, "GPU {id}: {runs:?}");
    }
    // Each attempt is recorded with its GPU, the killed ones too.
    let attempts: Vec<String> = std::fs::read_dir(s.ws.results().join("trials"))
        .unwrap()
        .flat_map(|d| {
            let text = std::fs::read_to_string(d.unwrap().path().join("attempts.jsonl")).unwrap();
            text.lines().map(String::from).collect::<Vec<_>>()
        })
        .collect();
    assert!(
        attempts.len() > ran.len(),
        "the killed attempts are recorded too"
    );
    for a in &attempts {
        let a: Value = serde_json::from_str(a).unwrap();
        assert!(matches!(a["gpus"].as_str(), Some("0" | "1")), "{a}");
    }
}

#[test]
fn bad_placements_are_clear_errors_before_anything_runs() {
    let s = Setup::new();
    let nvidia = s.fake_nvidia_smi();
    let empty = s.ws.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let cases: Vec<(Value, Vec<&str>, Option<&Path>, &str)> = vec![
        (
            json!({"resources": {"gpus": 0}}),
            vec!["--gpus", "0"],
            None,
            "`resources.gpus`: a trial needs more than 0 GPUs",
        ),
        (
            json!({"resources": {"gpus": -0.5}}),
            vec!["--gpus", "0"],
            None,
            "more than 0 GPUs",
        ),
        (
            json!({"resources": {"gpus": 0.3}}),
            vec!["--gpus", "0"],
            None,
            "0.3 does not divide a GPU evenly",
        ),
        (
            json!({"resources": {"gpus": 1.5}}),
            vec!["--gpus", "0"],
            None,
            "expected a whole number of GPUs",
        ),
        (
            json!({"resources": {"gpu": 1}}),
            vec![],
            None,
            "did you mean `gpus`",
        ),
        (
            json!({"resources": {"gpus": 2}}),
            vec!["--gpus", "0"],
            Some(&nvidia),
            "each trial needs 2 GPUs (`resources.gpus` 2) but --gpus gives 1 (0)",
        ),
        (
            json!({"resources": {"gpus": 0.5}}),
            vec![],
            None,
            "`resources.gpus` is 0.5: say which GPUs the trials may use with --gpus",
        ),
        (
            json!({}),
            vec!["--gpus", "0,7"],
            Some(&nvidia),
            "--gpus: GPU 7 is not on this machine (nvidia-smi lists 0,1)",
        ),
        (
            json!({}),
            vec!["--gpus", "all"],
            Some(&empty),
            "--gpus all: cannot list this machine's GPUs: nvidia-smi cannot be run",
        ),
        (
            json!({}),
            vec!["--gpus", "0,x"],
            None,
            "expected GPU indices such as 0,1,2 or `all`",
        ),
        (
            json!({"resources": {"gpus": 0.5}}),
            vec!["--executor", "slurm", "--gpus", "0"],
            None,
            "--gpus is for local runs",
        ),
        (
            json!({"resources": {"cpus": 2}, "slurm": {"cpus_per_task": 2}}),
            vec![],
            None,
            "given twice",
        ),
    ];
    for (extra, args, path, want) in cases {
        let grid = s.grid(extra.clone());
        let run = s.sweep(&grid, &args, path);
        assert_eq!(run.code(), 2, "{extra} {args:?}: {}", run.stderr());
        assert!(
            run.stderr().contains(want),
            "{extra} {args:?}: want `{want}` in {}",
            run.stderr()
        );
        assert!(
            !s.ws.results().exists(),
            "{extra} {args:?}: nothing written"
        );
        assert!(s.ran().is_empty(), "nothing ran");
    }
    // The built-in model trains on the CPU.
    let model = s.ws.write(
        "model.json",
        json!({"base": {"steps": 2}, "resources": {"gpus": 1}}).to_string(),
    );
    let run = s.sweep(&model, &["--gpus", "0"], None);
    assert!(
        run.stderr()
            .contains("the built-in model trains on the CPU"),
        "{}",
        run.stderr()
    );
    let model =
        s.ws.write("model.json", json!({"base": {"steps": 2}}).to_string());
    let run = s.sweep(&model, &["--gpus", "0"], None);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("the built-in model trains on the CPU"),
        "{}",
        run.stderr()
    );
}

#[test]
fn gpus_all_uses_what_nvidia_smi_lists() {
    require_python!();
    let s = Setup::new();
    let nvidia = s.fake_nvidia_smi();
    let grid = s.grid(json!({"resources": {"gpus": 1}}));
    s.sweep(&grid, &["--gpus", "all", "--jobs", "4"], Some(&nvidia))
        .expect_code(0);
    let seen: BTreeSet<String> = s.ran().into_iter().filter_map(|r| r.cuda).collect();
    assert_eq!(seen, BTreeSet::from(["0".to_string(), "1".to_string()]));
}

#[test]
fn a_trial_out_of_memory_on_a_share_is_retried_alone_on_a_whole_gpu() {
    require_python!();
    let s = Setup::new();
    let grid = s.grid(json!({"resources": {"gpus": 0.5}}));
    let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&grid).unwrap()).unwrap();
    g["program"]["env"]["OOM_AT_LR"] = "0.3".into();
    std::fs::write(&grid, g.to_string()).unwrap();
    let run = s.sweep(&grid, &["--gpus", "0,1", "--jobs", "4"], None);
    run.expect_code(0);
    assert!(
        run.stderr().contains("out of GPU memory on a shared GPU: it runs alone on a whole GPU next; retrying from its last checkpoint")
            && (run.stderr().contains("lr=0.3 seed=0 runs alone on GPU")
                || run.stderr().contains("lr=0.3 seed=0 will run alone on GPU")),
        "{}",
        run.stderr()
    );
    let rows = s.ws.csv("trials.csv");
    assert!(rows.iter().all(|r| r["status"] == "completed"), "{rows:?}");
    let oom = rows.iter().find(|r| r["label"] == "lr=0.3 seed=0").unwrap();
    let ran = s.ran();
    assert_eq!(ran.len(), 8, "{ran:?}");
    let alone = ran.iter().find(|r| r.trial == oom["id"]).unwrap();
    // While it ran, no other trial ran on its GPU.
    for other in ran
        .iter()
        .filter(|r| r.trial != alone.trial && r.cuda == alone.cuda)
    {
        assert!(
            other.end <= alone.start || other.start >= alone.end,
            "{other:?} overlaps {alone:?}"
        );
    }
    let attempts = s.ws.read(&format!("trials/{}/attempts.jsonl", oom["id"]));
    assert_eq!(attempts.lines().count(), 2, "{attempts}");
    // The others still shared: two at a time on a GPU at most, four at once at some point.
    for (id, runs) in &by_gpu(&ran) {
        assert!(most_at_once(runs) <= 2, "GPU {id}: {runs:?}");
    }
}
