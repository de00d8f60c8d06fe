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

    let out = one.results();
    one.command(&[
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
    ])
    .expect_code(0);
    let two = Workspace::new();
    let grid2 = two.write("search.json", SEARCH);
    two.sweep(&grid2, &[]).expect_code(0); // --jobs 2
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
