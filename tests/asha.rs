//! Asynchronous successive halving (`"method": "asha"`) and asynchronous Hyperband through the
//! binary: promotions are decided as results come in, in plan order, so `--jobs 1`, `--jobs 2`
//! and a run killed with SIGKILL again and again decide the same (`rungs.jsonl`) and give the
//! same numbers; a promoted trial continues bit-identically from its checkpoint; trials.csv
//! says when each trial ran and the summary how busy the workers were.

mod common;

use common::Workspace;

/// Asynchronous successive halving over 9 drawn configurations × 2 seeds: rungs at 30, 90 and
/// 270 steps.
const ASHA: &str = r#"{
  "name": "asha",
  "base": { "batch_size": 8, "steps": 270, "eval_every": 30 },
  "search": { "method": "random", "trials": 9, "seed": 2 },
  "grid": { "lr": { "loguniform": [0.001, 0.1] }, "hidden": { "int": [8, 32] } },
  "seeds": [0, 1],
  "early_stopping": { "method": "asha", "min_steps": 30, "eta": 3 }
}"#;

/// The decision lines of `rungs.jsonl`, parsed.
fn decisions(ws: &Workspace) -> Vec<serde_json::Value> {
    ws.read("rungs.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn asha_decides_the_same_whatever_the_jobs_and_a_promoted_trial_equals_a_full_run() {
    let one = Workspace::new();
    let grid = one.write("asha.json", ASHA);
    let out = one.results();
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    assert!(
        run.stderr().contains("ASHA: ") && run.stderr().contains(" goes on to step 90 ("),
        "{}",
        run.stderr()
    );
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.numbers(), two.numbers());

    // One line per entrant of rungs 1 and 2 as its result arrived, in plan order, and a
    // closing line per rung.
    let d = decisions(&one);
    let arrivals = |rung: u64| {
        d.iter()
            .filter(|d| d["rung"] == rung && d.get("arrived").is_some())
            .count()
    };
    let closing: Vec<&serde_json::Value> =
        d.iter().filter(|d| d.get("arrived").is_none()).collect();
    assert_eq!(arrivals(0), 9, "{d:?}");
    assert_eq!(closing.len(), 2, "{d:?}");
    assert_eq!(closing[0]["reached"], 9);
    assert_eq!(closing[0]["promoted"].as_array().unwrap().len(), 3);
    assert_eq!(arrivals(1), 3);
    // ⌊3/3⌋ = 1 of the three at step 90 goes on to the end.
    assert_eq!(closing[1]["promoted"].as_array().unwrap().len(), 1);
    let reached: Vec<u64> = d
        .iter()
        .filter(|d| d["rung"] == 0 && d.get("arrived").is_some())
        .map(|d| d["reached"].as_u64().unwrap())
        .collect();
    assert_eq!(reached, (1..=9).collect::<Vec<_>>(), "in order");

    let trials = one.csv("trials.csv");
    let status = |s: &str| trials.iter().filter(|t| t["status"] == s).count();
    assert_eq!((status("completed"), status("stopped")), (2, 16));
    // Each trial says when it ran; a trial trained rung by rung, when each rung was known.
    for t in &trials {
        assert!(t["started_at"].ends_with('Z'), "{t:?}");
        assert!(t["finished_at"] >= t["started_at"], "{t:?}");
        assert!(t["worker_seconds"].parse::<f64>().unwrap() > 0.0, "{t:?}");
    }
    let winner = trials.iter().find(|t| t["status"] == "completed").unwrap();
    let rungs_at: Vec<&str> = winner["rungs_at"].split(';').collect();
    assert_eq!(rungs_at.len(), 2, "{winner:?}");
    assert!(rungs_at[0].starts_with("30@") && rungs_at[1].starts_with("90@"));

    // The winner trained rung by rung (30, then 90, then 270 steps, from its checkpoints);
    // its numbers and weights equal one uninterrupted 270-step run.
    let (lr, hidden) = (&winner["lr"], &winner["hidden"]);
    let plain = Workspace::new();
    let single = plain.write(
        "one.json",
        format!(
            r#"{{ "base": {{ "batch_size": 8, "steps": 270, "eval_every": 30, "lr": {lr}, "hidden": {hidden}, "seed": {} }} }}"#,
            winner["seed"]
        ),
    );
    plain.sweep(&single, &[]).expect_code(0);
    let direct = plain.csv("trials.csv");
    assert_eq!(direct[0]["id"], winner["id"], "same configuration, same id");
    for key in ["final_train_ppl", "final_heldout_ppl", "best_heldout_ppl"] {
        assert_eq!(direct[0][key], winner[key], "{key}");
    }
    let model = |ws: &Workspace| {
        std::fs::read(
            ws.results()
                .join("trials")
                .join(&winner["id"])
                .join("model.safetensors"),
        )
        .unwrap()
    };
    assert_eq!(model(&one), model(&plain));

    // status and the summary: where each stopped, how busy the workers were.
    let status = one.command(&["status", out.to_str().unwrap()]);
    status.expect_code(0);
    assert!(
        status
            .stdout()
            .contains("rung 1 (step 30): 9 configurations reached it, 3 went on, 6 stopped"),
        "{}",
        status.stdout()
    );
    let summary = one.read("summary.md");
    assert!(
        summary.contains("**Workers** (asynchronous: promotions as results come in): busy "),
        "{summary}"
    );
    assert!(summary.contains("stopped at rung 1 (step 30): held-out ppl "));

    // Run again: nothing is trained, the stored decisions stand.
    let again = one.sweep(&grid, &[]);
    again.expect_code(0);
    assert!(!again.stderr().contains("started "), "{}", again.stderr());
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));

    // A results folder copied elsewhere (from a cluster) without its grid file still reports
    // and shows its status: the same tables, the same rungs.
    let copied = Workspace::new();
    let moved = copied.dir.path().join("from-the-cluster");
    std::fs::rename(two.results(), &moved).unwrap();
    std::fs::remove_file(two.dir.path().join("asha.json")).unwrap();
    for file in ["trials.csv", "curves.csv", "summary.md"] {
        std::fs::remove_file(moved.join(file)).unwrap();
    }
    let report = copied.command(&["report", moved.to_str().unwrap()]);
    report.expect_code(0);
    let status = copied.command(&["status", moved.to_str().unwrap()]);
    status.expect_code(0);
    assert!(
        status
            .stdout()
            .contains("rung 1 (step 30): 9 configurations reached it, 3 went on, 6 stopped"),
        "{}",
        status.stdout()
    );
    assert_eq!(
        std::fs::read_to_string(moved.join("rungs.jsonl")).unwrap(),
        one.read("rungs.jsonl")
    );
    assert!(std::fs::read_to_string(moved.join("summary.md"))
        .unwrap()
        .contains("stopped at rung 1 (step 30): held-out ppl "));

    // Synchronous decisions in the folder are not taken for asynchronous ones.
    let sync = Workspace::new();
    let sync_grid = sync.write(
        "sh.json",
        ASHA.replace("\"asha\"", "\"successive_halving\""),
    );
    sync.sweep(&sync_grid, &[]).expect_code(0);
    let asha_grid = sync.write("asha.json", ASHA);
    let run = sync.sweep(&asha_grid, &[]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("the stored rung decisions are of another search; deciding again"),
        "{}",
        run.stderr()
    );
    assert_eq!(sync.read("rungs.jsonl"), one.read("rungs.jsonl"));
}

#[test]
fn async_hyperband_decides_the_same_whatever_the_jobs() {
    let text = ASHA
        .replace("\"asha\"", "\"async_hyperband\"")
        .replace("\"trials\": 9", "\"trials\": 17")
        .replace("\"seeds\": [0, 1],", "");
    let one = Workspace::new();
    let grid = one.write("ahb.json", &text);
    let (_, two) = common::with_one_and_two_jobs(&one, &grid);
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.numbers(), two.numbers());
    let d = decisions(&one);
    // Brackets of 9 (from step 30) and 5 (from step 90) decide; the 3 of the last bracket
    // start at the end.
    let brackets: std::collections::BTreeSet<u64> =
        d.iter().map(|d| d["bracket"].as_u64().unwrap()).collect();
    assert_eq!(brackets, [0, 1].into());
    let trials = one.csv("trials.csv");
    let completed = trials.iter().filter(|t| t["status"] == "completed").count();
    // Bracket 1: 9 → 3 → 1; bracket 2: 5 → ⌊5/3⌋ = 1; bracket 3: its 3 trained fully.
    assert_eq!(completed, 5, "{d:?}");
}

/// Trials long enough (about a second each) that kills land mid-training.
const SLOW: &str = r#"{
  "name": "asha-slow",
  "base": { "hidden": 48, "batch_size": 16, "steps": 900, "eval_every": 100 },
  "checkpoint_every": 50,
  "search": { "method": "random", "trials": 9, "seed": 4 },
  "grid": { "lr": { "loguniform": [0.003, 0.03] }, "cell": ["rnn", "gru"] },
  "early_stopping": { "method": "asha", "min_steps": 100, "eta": 3 },
  "max_retries": 1
}"#;

#[test]
fn asha_killed_again_and_again_decides_and_ends_as_an_uninterrupted_run() {
    let want = Workspace::new();
    let grid = want.write("grid.json", SLOW);
    want.sweep(&grid, &[]).expect_code(0);

    let ws = Workspace::new();
    let grid = ws.write("grid.json", SLOW);
    let lines = || {
        std::fs::read_to_string(ws.results().join("rungs.jsonl")).map_or(0, |t| t.lines().count())
    };
    let promoted = || {
        std::fs::read_to_string(ws.results().join("rungs.jsonl"))
            .is_ok_and(|t| t.contains("\"promoted\":[\""))
    };
    // Killed while the first rung trains, just after a promotion, and while the last rung
    // trains; the workers die too in the first two rounds.
    let moments: [(&str, &dyn Fn() -> bool); 3] = [
        ("the first rung to train", &|| ws.steps_recorded() > 0),
        ("a first promotion", &promoted),
        ("a closed first rung", &|| lines() >= 10),
    ];
    common::kill_rounds(&ws, &grid, &moments, 2);
    ws.sweep(&grid, &[]).expect_code(0);
    assert_eq!(ws.read("rungs.jsonl"), want.read("rungs.jsonl"));
    assert_eq!(ws.numbers(), want.numbers());
}

/// TPE over the space of [`SLOW`], 8 configurations (4 random, then a window of 2), under
/// asynchronous successive halving.
const TPE_ASHA: &str = r#"{
  "name": "tpe-asha",
  "base": { "hidden": 48, "batch_size": 16, "steps": 900, "eval_every": 100 },
  "checkpoint_every": 50,
  "search": { "method": "tpe", "trials": 8, "seed": 1, "startup": 4, "lag": 2 },
  "grid": { "lr": { "loguniform": [0.003, 0.03] }, "cell": ["rnn", "gru"] },
  "early_stopping": { "method": "asha", "min_steps": 100, "eta": 3 },
  "max_retries": 1
}"#;

#[test]
fn tpe_with_asha_proposes_and_decides_the_same_whatever_the_jobs_and_kills() {
    let one = Workspace::new();
    let grid = one.write("grid.json", TPE_ASHA);
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    assert!(
        run.stderr().contains("TPE: configuration 5 of 8 (") && run.stderr().contains("ASHA: "),
        "{}",
        run.stderr()
    );
    assert_eq!(one.read("proposals.jsonl"), two.read("proposals.jsonl"));
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.numbers(), two.numbers());
    // A sliding window: proposal i learns from the first i − 1 configurations (lag 2).
    let learned: Vec<usize> = one
        .read("proposals.jsonl")
        .lines()
        .map(|l| {
            let p: serde_json::Value = serde_json::from_str(l).unwrap();
            p["learned_from"].as_array().map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(learned, [0, 0, 0, 0, 3, 4, 5, 6]);
    // All 8 entered the first rung, which closed, and something trained to the end.
    let d = decisions(&one);
    assert!(d
        .iter()
        .any(|d| d["rung"] == 0 && d.get("arrived").is_none() && d["reached"] == 8));
    let trials = one.csv("trials.csv");
    assert!(trials.iter().any(|t| t["status"] == "completed"));

    // Killed after the first proposal by TPE and after the first rung closed; the workers
    // die too the first time.
    let ws = Workspace::new();
    let grid = ws.write("grid.json", TPE_ASHA);
    let proposals = || {
        std::fs::read_to_string(ws.results().join("proposals.jsonl"))
            .map_or(0, |t| t.lines().count())
    };
    let closed = || {
        std::fs::read_to_string(ws.results().join("rungs.jsonl"))
            .is_ok_and(|t| t.lines().any(|l| !l.contains("\"arrived\"")))
    };
    let moments: [(&str, &dyn Fn() -> bool); 2] = [
        ("a first proposal by TPE", &|| proposals() >= 5),
        ("a closed first rung", &closed),
    ];
    common::kill_rounds(&ws, &grid, &moments, 1);
    ws.sweep(&grid, &[]).expect_code(0);
    assert_eq!(ws.read("proposals.jsonl"), one.read("proposals.jsonl"));
    assert_eq!(ws.read("rungs.jsonl"), one.read("rungs.jsonl"));
    assert_eq!(ws.numbers(), one.numbers());
}

/// TPE under ASHA where the rung above the first is the full budget (min_steps × η = steps):
/// the promoted configurations' scores are known only once they trained to the end.
const TPE_TWO_RUNGS: &str = r#"{
  "name": "tpe-two-rungs",
  "base": { "hidden": 16, "seq_len": 35, "steps": 90, "eval_every": 10 },
  "search": { "method": "tpe", "trials": 8, "seed": 3, "startup": 4, "lag": 2 },
  "grid": { "lr": { "loguniform": [0.001, 0.1] }, "batch_size": [4, 8] },
  "early_stopping": { "method": "asha", "min_steps": 30, "eta": 3 }
}"#;

#[test]
fn tpe_with_asha_proposes_every_configuration_when_the_next_rung_is_the_last() {
    let one = Workspace::new();
    let grid = one.write("grid.json", TPE_TWO_RUNGS);
    // It used to stop after 4 proposals: "the TPE search stopped with 4 configurations
    // still to propose", waiting for a score at step 90 nothing recorded.
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    run.expect_code(0);
    assert_eq!(one.read("proposals.jsonl").lines().count(), 8);
    assert_eq!(one.read("proposals.jsonl"), two.read("proposals.jsonl"));
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.numbers(), two.numbers());
}
