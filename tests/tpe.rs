//! TPE search through the binary: its proposals and every number are the same whatever
//! `--jobs` and however often the run is killed; its random configurations are random
//! search's; raising `trials` keeps the earlier proposals; bad settings are clear errors.

mod common;

use common::Workspace;

/// Nine configurations, four random, then two at a time; `dropout` matters only with two
/// layers.
const TPE: &str = r#"{
  "name": "tpe",
  "base": { "batch_size": 8, "steps": 40, "eval_every": 20 },
  "search": { "method": "tpe", "trials": 9, "seed": 3, "startup": 4, "lag": 2 },
  "grid": { "lr": { "loguniform": [0.001, 0.1] }, "hidden": { "int": [8, 24] },
            "cell": ["rnn", "gru"], "layers": [1, 2], "dropout": { "uniform": [0, 0.5] } },
  "seeds": [0, 1]
}"#;

/// The labels a dry run lists, in order.
fn dry_run_labels(ws: &Workspace, grid: &std::path::Path) -> Vec<String> {
    let dry = ws.sweep(grid, &["--dry-run"]);
    dry.expect_code(0);
    dry.stdout()
        .lines()
        .map(|l| l.split("  ").last().unwrap().to_string())
        .collect()
}

#[test]
fn proposals_and_numbers_are_the_same_whatever_the_jobs() {
    let one = Workspace::new();
    let grid = one.write("tpe.json", TPE);
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    let err = run.stderr();
    assert!(
        err.contains(
            "TPE: 9 configurations, the first 4 drawn at random, then each proposed as soon as \
             the configurations at least 2 before it have their results"
        ),
        "{err}"
    );
    assert!(
        err.contains("8 trials of the 4 configurations chosen so far (TPE proposes 9 in all)"),
        "{err}"
    );
    // A sliding window, not waves: each proposal learns from one more configuration.
    for (i, learned) in [(5, 3), (6, 4), (9, 7)] {
        let said = format!("TPE: configuration {i} of 9 (");
        let line = err
            .lines()
            .find(|l| l.starts_with(&said))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(
            line.ends_with(&format!(
                "), proposed from the results of the first {learned}"
            )),
            "{line}"
        );
    }

    assert_eq!(one.numbers(), two.numbers(), "same proposals, same numbers");
    assert_eq!(one.read("proposals.jsonl"), two.read("proposals.jsonl"));

    // Each proposal is stored with what it learned from: the configurations at least `lag`
    // before it.
    let proposals: Vec<serde_json::Value> = one
        .read("proposals.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(proposals.len(), 9);
    for (i, p) in proposals.iter().enumerate() {
        assert_eq!(p["index"], i);
        let learned = p["learned_from"].as_array().map_or(0, Vec::len);
        if i < 4 {
            assert_eq!((p["by"].as_str(), learned), (Some("random"), 0));
        } else {
            assert_eq!((p["by"].as_str(), learned), (Some("tpe"), i - 1));
        }
    }
    let trials = one.csv("trials.csv");
    assert_eq!(trials.len(), 18, "9 configurations × 2 seeds");
    for t in &trials {
        let n: usize = t["proposal"].parse().unwrap();
        let by = if n <= 4 { "random" } else { "tpe" };
        assert_eq!(t["proposed_by"], by, "{t:?}");
    }

    let summary = one.read("summary.md");
    assert!(
        summary.contains("**TPE**: 4 configurations drawn at random, then 5 proposed by TPE"),
        "{summary}"
    );
    assert!(summary.contains("| chosen |"), "{summary}");
    assert!(summary.contains(" · TPE |"), "{summary}");
    assert!(summary.contains(" · random |"), "{summary}");
    let one_layer = trials
        .iter()
        .filter(|t| t["layers"] == "1" && t["seed"] == "0")
        .count();
    assert!(
        summary.contains(&format!(
            "`dropout` had no effect in {one_layer} of the 9 configurations"
        )),
        "{summary}"
    );
}

#[test]
fn the_random_configurations_are_random_searchs_and_more_trials_keep_the_proposals() {
    let ws = Workspace::new();
    let random = ws.write(
        "random.json",
        TPE.replace(
            r#""method": "tpe", "trials": 9, "seed": 3, "startup": 4, "lag": 2"#,
            r#""method": "random", "trials": 4, "seed": 3"#,
        ),
    );
    let fewer = ws.write(
        "fewer.json",
        TPE.replace(r#""trials": 9"#, r#""trials": 7"#),
    );
    assert_eq!(
        dry_run_labels(&ws, &random),
        dry_run_labels(&ws, &fewer),
        "TPE's 4 random configurations (× 2 seeds) are random search's"
    );

    ws.sweep(&fewer, &[]).expect_code(0);
    let before = ws.read("proposals.jsonl");
    assert_eq!(before.lines().count(), 7);
    let results = ws.results();
    let status = ws.command(&["status", results.to_str().unwrap()]);
    status.expect_code(0);
    assert!(
        status
            .stdout()
            .contains("TPE: 7 of 7 configurations chosen, 4 at random and 3 proposed by TPE\n"),
        "{}",
        status.stdout()
    );
    // The grid file now asks for more: `status` says the search is not done.
    std::fs::write(&fewer, TPE).unwrap();
    let status = ws.command(&["status", results.to_str().unwrap()]);
    status.expect_code(1);
    assert!(
        status
            .stdout()
            .contains("TPE: 7 of 9 configurations chosen, 4 at random and 3 proposed by TPE; 2 to propose as results come in"),
        "{}",
        status.stdout()
    );
    let grid = ws.write("tpe.json", TPE);
    let more = ws.sweep(&grid, &[]);
    more.expect_code(0);
    assert!(
        more.stderr().contains("14 already completed"),
        "{}",
        more.stderr()
    );
    let after = ws.read("proposals.jsonl");
    assert!(after.starts_with(&before), "{before}\n---\n{after}");
    assert_eq!(after.lines().count(), 9);

    // The same search in a fresh folder proposes the same nine.
    let fresh = Workspace::new();
    let grid = fresh.write("tpe.json", TPE);
    fresh.sweep(&grid, &[]).expect_code(0);
    assert_eq!(fresh.read("proposals.jsonl"), after);

    // Another seed is another search: its proposals replace the stored ones.
    let other = ws.write("other.json", TPE.replace(r#""seed": 3"#, r#""seed": 4"#));
    let run = ws.sweep(&other, &["--dry-run"]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("(4 chosen so far)"),
        "{}",
        run.stderr()
    );
    let run = ws.sweep(&other, &[]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("warning: the stored proposals from configuration 1 on were made for other"),
        "{}",
        run.stderr()
    );
    assert_eq!(ws.read("proposals.jsonl").lines().count(), 9);
    assert_ne!(ws.read("proposals.jsonl"), after);
}

/// Trials long enough (about a second) that kills land mid-training.
const SLOW: &str = r#"{
  "name": "tpe-slow",
  "base": { "hidden": 64, "batch_size": 16, "steps": 900, "eval_every": 100 },
  "checkpoint_every": 50,
  "search": { "method": "tpe", "trials": 6, "seed": 1, "startup": 3, "lag": 2 },
  "grid": { "lr": { "loguniform": [0.003, 0.03] }, "cell": ["rnn", "gru"] },
  "max_retries": 1
}"#;

#[test]
fn a_search_killed_again_and_again_proposes_and_ends_as_an_uninterrupted_one() {
    let want = Workspace::new();
    let grid = want.write("grid.json", SLOW);
    want.sweep(&grid, &[]).expect_code(0);

    let ws = Workspace::new();
    let grid = ws.write("grid.json", SLOW);
    let proposed = || {
        std::fs::read_to_string(ws.results().join("proposals.jsonl"))
            .map_or(0, |t| t.lines().count())
    };
    // Killed while the random wave trains, just after the second wave was proposed, and while
    // the last one trains; the workers die too in the first two rounds.
    let moments: [(&str, &dyn Fn() -> bool); 3] = [
        ("the random wave to train", &|| ws.steps_recorded() > 0),
        ("the second wave to be proposed", &|| proposed() >= 5),
        ("the last proposal", &|| proposed() >= 6),
    ];
    common::kill_rounds(&ws, &grid, &moments, 2);
    ws.sweep(&grid, &[]).expect_code(0);
    assert_eq!(ws.read("proposals.jsonl"), want.read("proposals.jsonl"));
    assert_eq!(ws.numbers(), want.numbers());
}

#[test]
fn tpe_with_successive_halving_decides_the_same_whatever_the_jobs() {
    let grid_text = TPE.replace(
        r#""seeds": [0, 1]"#,
        r#""seeds": [0],
  "early_stopping": { "method": "successive_halving", "min_steps": 20, "eta": 2 }"#,
    );
    let one = Workspace::new();
    let grid = one.write("tpe.json", &grid_text);
    let (run, two) = common::with_one_and_two_jobs(&one, &grid);
    assert!(
        run.stderr()
            .contains("rung 1 of 2 (step 20): 4 configurations"),
        "{}",
        run.stderr()
    );
    assert_eq!(one.numbers(), two.numbers());
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.read("proposals.jsonl"), two.read("proposals.jsonl"));
    // One bracket per wave: the startup's four, then two at a time.
    let brackets: Vec<u64> = one
        .read("rungs.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["bracket"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(brackets, [0, 1, 2, 3], "{brackets:?}");
    let statuses: Vec<String> = one
        .csv("trials.csv")
        .iter()
        .map(|t| t["status"].clone())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "stopped").count(),
        2 + 1 + 1,
        "half of each wave stops at step 20 (the last wave is one configuration): {statuses:?}"
    );
    let summary = one.read("summary.md");
    assert!(
        summary.contains(
            "a configuration stopped at a rung counts behind every one that trained further"
        ),
        "{summary}"
    );
}

#[test]
fn bad_tpe_settings_are_clear_errors() {
    let ws = Workspace::new();
    let search = r#""method": "tpe", "trials": 9, "seed": 3, "startup": 4, "lag": 2"#;
    let cases = [
        (
            r#""method": "tpe", "trials": 9, "lag": 0"#,
            "`search.lag`: expected an integer ≥ 1, got 0",
        ),
        (
            r#""method": "tpe", "trials": 9, "startup": 12"#,
            "`search.startup`: 12 random configurations before TPE proposes, but `trials` is 9",
        ),
        (
            r#""method": "tpe", "trials": 5"#,
            "`search.startup`: 10 random configurations (the default) before TPE proposes, but \
             `trials` is 5",
        ),
        (
            r#""method": "tpe", "trials": 9, "startup": 2, "lag": 3"#,
            "`search.startup`: expected at least `lag` (3) random configurations",
        ),
        (
            r#""method": "tpe", "trials": 9, "lags": 3"#,
            "`search.lags`: unknown key; expected one of: method, trials, seed, startup, lag \
             (did you mean `lag`?)",
        ),
        (
            r#""method": "random", "trials": 9, "lag": 3"#,
            "`search.lag`: applies to TPE (`\"method\": \"tpe\"`) only",
        ),
        (
            r#""method": "tpe""#,
            "`search.trials`: TPE needs the number of configurations to try",
        ),
        (
            r#""method": "bayes", "trials": 9"#,
            "`search.method`: expected \"grid\", \"random\" or \"tpe\", got \"bayes\"",
        ),
    ];
    for (i, (setting, expected)) in cases.into_iter().enumerate() {
        let grid = ws.write(&format!("bad{i}.json"), TPE.replace(search, setting));
        let run = ws.sweep(&grid, &[]);
        run.expect_code(2);
        let err = run.stderr();
        assert!(err.contains(expected), "{setting}: {err}");
        assert!(err.contains(&format!("bad{i}.json")), "{setting}: {err}");
    }
    assert!(!ws.results().exists(), "nothing ran");
}
