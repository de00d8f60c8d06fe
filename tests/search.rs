//! Random search over ranges through the binary: the drawn configurations, their trials and
//! every number are the same whatever `--jobs`, `--dry-run` lists the draws, and the summary
//! shows ranged parameters by value instead of one table row per value.

mod common;

use common::Workspace;

const SEARCH: &str = r#"{
  "name": "random",
  "base": { "batch_size": 8, "steps": 40, "eval_every": 20 },
  "search": { "method": "random", "trials": 4, "seed": 3 },
  "grid": { "lr": { "loguniform": [0.001, 0.1] }, "hidden": { "int": [8, 24] },
            "cell": ["rnn", "gru"] },
  "seeds": [0, 1]
}"#;

#[test]
fn a_random_search_gives_the_same_trials_and_numbers_whatever_the_jobs() {
    let one = Workspace::new();
    let grid = one.write("search.json", SEARCH);
    let dry = one.sweep(&grid, &["--dry-run"]);
    dry.expect_code(0);
    let stdout = dry.stdout();
    let listed: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert_eq!(listed.len(), 8, "4 configurations × 2 seeds: {listed:?}");
    assert!(
        listed
            .iter()
            .all(|l| l.contains(" run ") && l.contains(" lr=")),
        "{listed:?}"
    );
    assert!(
        !one.results().join("sweep.json").exists(),
        "a dry run writes nothing"
    );

    let (_, two) = common::with_one_and_two_jobs(&one, &grid);
    assert_eq!(one.numbers(), two.numbers(), "same trials, same numbers");

    let trials = one.csv("trials.csv");
    let labels: Vec<&str> = trials.iter().map(|t| t["label"].as_str()).collect();
    for (row, line) in labels.iter().zip(&listed) {
        assert!(line.ends_with(row), "{line} vs {row}");
    }
    let summary = one.read("summary.md");
    assert!(summary.contains("`lr` is drawn from a range"), "{summary}");
    assert!(
        summary.contains("## cell\n\nAveraged over lr, hidden and seeds:"),
        "{summary}"
    );
    // A scatter of the result against each ranged parameter (log x for lr).
    assert!(summary.contains("![lr](charts/lr.png)"), "{summary}");
    assert!(one.results().join("charts/hidden.png").exists());
    let manifest = one.read("sweep.json");
    assert!(
        manifest.contains("\"log_ranges\": [\n    \"lr\"\n  ]"),
        "{manifest}"
    );

    // Asking for more configurations keeps the first ones: they are not trained again.
    let more = one.write(
        "more.json",
        SEARCH.replace("\"trials\": 4", "\"trials\": 6"),
    );
    let run = one.sweep(&more, &[]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("4 to run, 8 already completed"),
        "{}",
        run.stderr()
    );
}

/// Successive halving over 9 drawn configurations: rungs at 30, 90 and 270 steps.
const HALVING: &str = r#"{
  "name": "halving",
  "base": { "batch_size": 8, "steps": 270, "eval_every": 30 },
  "search": { "method": "random", "trials": 9, "seed": 2 },
  "grid": { "lr": { "loguniform": [0.001, 0.1] }, "hidden": { "int": [8, 32] } },
  "early_stopping": { "method": "successive_halving", "min_steps": 30, "eta": 3 }
}"#;

#[test]
fn successive_halving_decides_the_same_whatever_the_jobs_and_a_promoted_trial_equals_a_full_run() {
    let one = Workspace::new();
    let grid = one.write("halving.json", HALVING);
    let out = one.results();
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    assert!(
        run.stderr()
            .contains("rung 3 of 3 (step 270): 1 configuration,"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        one.numbers(),
        two.numbers(),
        "same trials, same stops, same numbers"
    );
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));

    let trials = one.csv("trials.csv");
    let status = |s: &str| trials.iter().filter(|t| t["status"] == s).count();
    assert_eq!((status("completed"), status("stopped")), (1, 8));
    let steps: Vec<usize> = trials
        .iter()
        .map(|t| t["steps_done"].parse().unwrap())
        .collect();
    assert_eq!(steps.iter().filter(|&&s| s == 30).count(), 6);
    assert_eq!(steps.iter().filter(|&&s| s == 90).count(), 2);
    let summary = one.read("summary.md");
    assert!(
        summary.contains("**Early stopping**: 8 trials stopped at a rung and 1 reached"),
        "{summary}"
    );
    assert!(
        summary.contains("630 steps were trained, 26% of the 2430"),
        "{summary}"
    );

    // The winner trained rung by rung (30, then 90, then 270 steps, continued from its
    // checkpoints); its numbers and weights equal one uninterrupted 270-step run.
    let winner = trials.iter().find(|t| t["status"] == "completed").unwrap();
    let (lr, hidden) = (&winner["lr"], &winner["hidden"]);
    let plain = Workspace::new();
    let single = plain.write(
        "one.json",
        format!(r#"{{ "base": {{ "batch_size": 8, "steps": 270, "eval_every": 30, "lr": {lr}, "hidden": {hidden} }} }}"#),
    );
    plain.sweep(&single, &[]).expect_code(0);
    let direct = plain.csv("trials.csv");
    assert_eq!(direct[0]["id"], winner["id"], "same configuration, same id");
    for key in [
        "final_train_ppl",
        "final_heldout_ppl",
        "best_heldout_ppl",
        "steps_done",
    ] {
        assert_eq!(direct[0][key], winner[key], "{key}");
    }
    let curves = |ws: &Workspace| -> Vec<String> {
        ws.read("curves.csv")
            .lines()
            .filter(|l| l.starts_with(winner["id"].as_str()))
            .map(|l| l.rsplit_once(',').unwrap().0.to_string()) // without elapsed_s
            .collect()
    };
    assert_eq!(curves(&one), curves(&plain));
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

    // Each stopped trial says where and why, in status and in summary.md.
    let status = one.command(&["status", out.to_str().unwrap()]);
    status.expect_code(0);
    let stops = status
        .stdout()
        .lines()
        .filter(|l| l.contains("stopped at rung 1 (step 30): held-out ppl ") && l.contains(" of 9"))
        .count();
    assert_eq!(stops, 6, "{}", status.stdout());
    assert!(
        summary.contains("stopped at rung 2 (step 90): held-out ppl "),
        "{summary}"
    );

    // Run again: nothing is trained, the stored decisions stand.
    let again = one.sweep(&grid, &[]);
    again.expect_code(0);
    assert!(!again.stderr().contains("training "), "{}", again.stderr());

    // Another search in the same folder does not take the first one's decisions for its own.
    let before = one.read("rungs.jsonl");
    let other = one.write("other.json", HALVING.replace("\"seed\": 2", "\"seed\": 3"));
    let run = one.sweep(&other, &[]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("the stored rung decisions are of another search; deciding again"),
        "{}",
        run.stderr()
    );
    assert_ne!(one.read("rungs.jsonl"), before);
}

/// Hyperband over 17 drawn configurations: brackets of 9, 5 and 3 starting at 30, 90 and 270
/// steps, trained in lockstep rounds.
const HYPERBAND: &str = r#"{
  "name": "hyperband",
  "base": { "batch_size": 8, "steps": 270, "eval_every": 30 },
  "search": { "method": "random", "trials": 17, "seed": 2 },
  "grid": { "lr": { "loguniform": [0.001, 0.1] }, "hidden": { "int": [8, 32] } },
  "early_stopping": { "method": "hyperband", "min_steps": 30, "eta": 3 }
}"#;

#[test]
fn hyperband_brackets_decide_the_same_whatever_the_jobs() {
    let one = Workspace::new();
    let grid = one.write("hb.json", HYPERBAND);
    let out = one.results();
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    let err = run.stderr();
    assert!(
        err.contains(
            "bracket 1, rung 1 of 3 (step 30): 9 configurations, 9 trials to train; bracket 2, \
             rung 2 of 3 (step 90): 5 configurations, 5 trials to train; bracket 3, rung 3 of 3 \
             (step 270): 3 configurations, 3 trials to train"
        ),
        "{err}"
    );
    assert_eq!(one.numbers(), two.numbers());
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    let trials = one.csv("trials.csv");
    let status = |s: &str| trials.iter().filter(|t| t["status"] == s).count();
    // Bracket 1 sends 1 of 9 to the end, bracket 2 sends 2 of 5, bracket 3 trains its 3 fully.
    assert_eq!((status("completed"), status("stopped")), (6, 11));
    let decisions = one.read("rungs.jsonl");
    assert_eq!(decisions.lines().count(), 3, "{decisions}");
    // Read by a pipe that closes before it writes (`sweep status | head`), it ends quietly,
    // killed by SIGPIPE as other tools are, not with a panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // closed before the child writes: no race
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["status", out.to_str().unwrap()])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let piped_err = String::from_utf8_lossy(&piped.stderr);
    assert!(!piped_err.contains("panicked"), "{piped_err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(piped.status.signal(), Some(libc_sigpipe()), "{piped_err}");
    let status = one.command(&["status", out.to_str().unwrap()]);
    status.expect_code(0);
    assert!(
        status.stdout().contains(
            "bracket 2, rung 2 (step 90): 5 configurations reached it, 2 went on, 3 stopped"
        ),
        "{}",
        status.stdout()
    );
}

/// SIGPIPE's number (13 on Linux).
fn libc_sigpipe() -> i32 {
    13
}
