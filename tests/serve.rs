//! `sweep serve` against a real server on the loopback interface, during a real sweep: the
//! API's numbers are those of trials.csv and curves.csv, a running trial's step advances,
//! curves are read incrementally, bad requests get clear errors, and nothing outside the
//! results folder is served. A program sweep is served with its own metric and parameters,
//! and the values of its environment are hidden.

mod common;

use std::time::Duration;

use common::python_available;
use common::server::{program_grid, Server, SECRET};
use common::{wait_until, Workspace};
use serde_json::{json, Value};

/// Two trials of about 6 s each.
const GRID: &str = r#"{
  "name": "live",
  "base": { "hidden": 192, "batch_size": 32, "steps": 1200, "eval_every": 100 },
  "grid": { "lr": [0.01, 0.003] }
}"#;

fn trial<'a>(trials: &'a Value, id: &str) -> &'a Value {
    trials["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()
}

#[test]
fn the_api_follows_a_running_sweep_and_ends_with_the_numbers_of_the_csvs() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    let sweep = ws.spawn(&grid, &[]);
    wait_until(60, "the sweep's manifest", || {
        ws.results().join("sweep.json").exists()
    });
    let server = Server::start(&ws.results(), &[]);
    assert!(
        server.base.starts_with("http://127.0.0.1:"),
        "{}",
        server.base
    );

    // A running trial's step advances between two polls.
    let mut running = None;
    wait_until(60, "a trial to run", || {
        let trials = server.json("/api/trials");
        running = trials["trials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["status"] == "running" && t["step"].as_u64() > Some(0))
            .map(|t| {
                (
                    t["id"].as_str().unwrap().to_string(),
                    t["step"].as_u64().unwrap(),
                )
            });
        running.is_some()
    });
    let (id, step) = running.unwrap();
    wait_until(10, "the running trial's step to advance", || {
        trial(&server.json("/api/trials"), &id)["step"].as_u64() > Some(step)
    });
    let sweep_json = server.json("/api/sweep");
    assert_eq!(sweep_json["name"], "live");
    assert_eq!(sweep_json["total"], 2);
    assert!(
        sweep_json["counts"]["running"].as_u64() >= Some(1),
        "{sweep_json}"
    );
    assert!(
        sweep_json["eta_seconds"].as_f64().is_some_and(|s| s > 0.0),
        "{sweep_json}"
    );

    // Curves come incrementally: only the rows after `since`.
    let all = server.json(&format!("/api/curves?trial={id}"));
    let rows = all["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    let since = rows[rows.len() / 2][0].as_u64().unwrap();
    let later = server.json(&format!("/api/curves?trial={id}&since={since}"));
    let later_rows = later["rows"].as_array().unwrap();
    assert!(later_rows.iter().all(|r| r[0].as_u64() > Some(since)));
    assert_eq!(
        later_rows.first().and_then(|r| r[0].as_u64()),
        Some(since + 1)
    );

    let out = common::Run(sweep.wait_with_output().unwrap());
    out.expect_code(0);
    std::thread::sleep(Duration::from_secs(1)); // one refresh period

    // The same numbers as trials.csv and curves.csv.
    let trials = server.json("/api/trials");
    for row in ws.csv("trials.csv") {
        let t = trial(&trials, &row["id"]);
        assert_eq!(t["status"], row["status"]);
        assert_eq!(t["label"], row["label"]);
        for key in ["final_train_ppl", "final_heldout_ppl", "best_heldout_ppl"] {
            let csv: f64 = row[key].parse().unwrap();
            assert_eq!(t[key].as_f64(), Some(csv), "{key}");
        }
        assert_eq!(t["params"]["lr"].as_f64(), row["lr"].parse().ok());
        assert_eq!(t["step"], 1200);
    }
    let curves = server.json(&format!("/api/curves?trial={id}"));
    let csv_rows: Vec<Vec<String>> = ws
        .csv("curves.csv")
        .into_iter()
        .filter(|r| r["trial_id"] == id)
        .map(|r| {
            vec![
                r["step"].clone(),
                r["train_ppl"].clone(),
                r["heldout_ppl"].clone(),
            ]
        })
        .collect();
    let api_rows: Vec<Vec<String>> = curves["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let number = |v: &Value| v.as_f64().map_or(String::new(), |x| x.to_string());
            vec![r[0].to_string(), number(&r[2]), number(&r[3])]
        })
        .collect();
    assert_eq!(api_rows, csv_rows);
    let summary = server.json("/api/summary");
    assert!(
        summary["markdown"].as_str().unwrap().contains("## Verdict"),
        "{summary}"
    );
    let page = server.json(&format!("/api/trial?id={id}"));
    assert_eq!(page["config"]["id"], id.as_str());
    assert!(page["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "metrics.csv"));
    assert!(page["sample_command"]
        .as_str()
        .unwrap()
        .starts_with("sweep sample "));
}

#[test]
fn bad_requests_are_clear_errors_and_nothing_outside_the_folder_is_served() {
    let ws = Workspace::new();
    let grid = ws.write(
        "grid.json",
        r#"{ "base": { "hidden": 8, "batch_size": 4, "steps": 20, "eval_every": 10 } }"#,
    );
    ws.sweep(&grid, &[]).expect_code(0);
    std::fs::write(ws.path("secret.png"), "outside").unwrap();
    std::os::unix::fs::symlink(ws.path("secret.png"), ws.results().join("link.png")).unwrap();
    let server = Server::start(&ws.results(), &[]);
    let id = ws.csv("trials.csv")[0]["id"].clone();

    for (path, status, message) in [
        ("/api/curves", 400, "`trial` is required"),
        (
            &format!("/api/curves?trial={id}&since=x"),
            400,
            "`since` must be a step number",
        ),
        (
            &format!("/api/curves?trial={id}&from=3"),
            400,
            "unknown query parameter `from`",
        ),
        (
            "/api/curves?trial=0123456789ab",
            404,
            "no trial `0123456789ab` in this sweep",
        ),
        ("/api/trial?id=nope", 404, "no trial `nope`"),
        ("/api/nothing", 404, "no such page"),
        (
            "/files/../grid.json",
            403,
            "only plain paths inside the results folder",
        ),
        (
            "/files/%2e%2e/grid.json",
            403,
            "only plain paths inside the results folder",
        ),
        (
            "/files/charts/%2e%2e%2f%2e%2e%2fgrid.json",
            403,
            "only plain paths",
        ),
        ("/files/%2fetc%2fpasswd", 403, "only plain paths"),
        ("/files/link.png", 403, "leads outside the results folder"),
        ("/files/sweep.lock", 404, "not a file the dashboard serves"),
        (
            &format!("/files/trials/{id}/checkpoint.safetensors"),
            404,
            "not a file",
        ),
    ] {
        let (code, body) = server.get(path);
        assert_eq!(code, status, "{path}: {body}");
        assert!(body.contains(message), "{path}: {body}");
    }
    // A page elsewhere cannot reach the dashboard through a DNS name pointed at 127.0.0.1.
    let (code, body) = server.get_with_host("/api/sweep", "attacker.example:8080");
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("answers requests for localhost only"),
        "{body}"
    );
    let port = server.base.rsplit(':').next().unwrap().to_string();
    assert_eq!(
        server
            .get_with_host("/api/sweep", &format!("localhost:{port}"))
            .0,
        200
    );
    let (code, body) = server.get("/files/trials.csv");
    assert_eq!(code, 200);
    assert!(body.starts_with("id,label,"));
    let (code, _) = server.get(&format!("/files/trials/{id}/metrics.csv"));
    assert_eq!(code, 200);
    // A damaged trial file shows as damaged.
    std::fs::write(
        ws.results().join("trials").join(&id).join("result.json"),
        "{ torn",
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(1)); // one refresh period
    let trials = server.json("/api/trials");
    let damaged = trial(&trials, &id);
    assert_eq!(damaged["status"], "damaged", "{trials}");
    assert!(
        damaged["reason"].as_str().unwrap().contains("result.json"),
        "{damaged}"
    );
    assert_eq!(server.json("/api/sweep")["counts"]["damaged"], 1);
    assert!(
        server.stop().is_empty(),
        "no warning on the loopback interface"
    );

    // Another interface: served, with a warning that names the risk.
    let open = Server::start(&ws.results(), &["--host", "0.0.0.0"]);
    std::thread::sleep(Duration::from_millis(200));
    let err = open.stop();
    assert!(
        err.contains("warning: listening on 0.0.0.0, not the loopback interface"),
        "{err}"
    );

    // An empty folder is served, waiting for a sweep; a folder that does not exist is an error.
    let later = ws.path("later");
    std::fs::create_dir(&later).unwrap();
    let waiting = Server::start(&later, &[]);
    let (code, body) = waiting.get("/api/sweep");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("cannot read the results folder"), "{body}");
    ws.command(&[grid.to_str().unwrap(), "--out", later.to_str().unwrap()])
        .expect_code(0);
    std::thread::sleep(Duration::from_secs(1)); // one refresh period
    assert_eq!(waiting.json("/api/sweep")["total"], 1);
    assert!(waiting.stop().contains("has no sweep.json yet"));
    let missing = ws.command(&["serve", ws.path("nowhere").to_str().unwrap(), "--port", "0"]);
    missing.expect_code(2);
    assert!(
        missing.stderr().contains("is not a sweep results folder"),
        "{}",
        missing.stderr()
    );
}

/// The JSON lines of a trial's metrics.jsonl that report a step (not the `checkpoint` ones).
fn metric_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("step").is_some())
        .collect()
}

#[test]
fn a_program_sweep_is_served_with_its_metric_its_parameters_and_its_files() {
    if !python_available() {
        return;
    }
    let ws = Workspace::new();
    // Two trials of about 4 s each (train.py sleeps step_delay_s a step).
    let grid = ws.write(
        "grid.json",
        program_grid(
            "bigram-serve",
            "min",
            json!({ "steps": 400, "eval_every": 100, "batch_size": 16, "step_delay_s": 0.01 }),
            json!({ "lr": [0.5, 5] }),
            json!([0]),
        ),
    );
    let sweep = ws.spawn(&grid, &[]);
    wait_until(60, "the sweep's manifest", || {
        ws.results().join("sweep.json").exists()
    });
    let server = Server::start(&ws.results(), &[]);

    // A running program trial: where it is is the last step it reported, its metric the last
    // value; both advance between polls.
    let mut running = None;
    wait_until(60, "a program trial to report", || {
        let trials = server.json("/api/trials");
        running = trials["trials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["status"] == "running" && t["step"].as_u64() > Some(0))
            .cloned();
        running.is_some()
    });
    let running = running.unwrap();
    let id = running["id"].as_str().unwrap().to_string();
    assert!(running["last_val_loss"].as_f64().is_some(), "{running}");
    assert_eq!(running["steps"], 400, "{running}");
    let step = running["step"].as_u64().unwrap();
    wait_until(10, "the running trial's step to advance", || {
        trial(&server.json("/api/trials"), &id)["step"].as_u64() > Some(step)
    });

    let out = common::Run(sweep.wait_with_output().unwrap());
    out.expect_code(0);
    std::thread::sleep(Duration::from_secs(1)); // one refresh period

    // The sweep: its metric, its program, no corpus.
    let sweep_json = server.json("/api/sweep");
    assert_eq!(sweep_json["name"], "bigram-serve");
    assert_eq!(
        sweep_json["metric"],
        json!({ "name": "val_loss", "mode": "min", "builtin": false })
    );
    let program = sweep_json["program"].as_str().unwrap();
    assert!(
        program.starts_with("python3 train.py --corpus "),
        "{program}"
    );
    assert_eq!(sweep_json["corpus"], "");
    assert_eq!(sweep_json["counts"]["completed"], 2, "{sweep_json}");

    // Each trial: its free-form parameters, and its metric as result.json has it.
    let trials = server.json("/api/trials");
    let rows = trials["trials"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{trials}");
    for t in rows {
        let id = t["id"].as_str().unwrap();
        let dir = ws.results().join("trials").join(id);
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let result: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap())
                .unwrap();
        assert_eq!(t["params"], config["params"], "{t}");
        let mut names: Vec<&str> = t["params"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "batch_size",
                "eval_every",
                "lr",
                "seed",
                "step_delay_s",
                "steps"
            ]
        );
        assert_eq!(t["status"], "completed");
        assert_eq!(
            (t["step"].as_u64(), t["steps"].as_u64()),
            (Some(400), Some(400))
        );
        let metric = &result["metric"];
        assert_eq!(metric["name"], "val_loss");
        // The metric under its own name, as trials.csv names it; nothing called a perplexity.
        assert_eq!(t["last_val_loss"], metric["last"], "{t}");
        assert_eq!(t["final_val_loss"], metric["last"], "{t}");
        assert_eq!(t["best_val_loss"], metric["best"], "{t}");
        assert_eq!(t["best_val_loss_step"], metric["best_step"], "{t}");
        let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("heldout") || k.contains("ppl")),
            "{keys:?}"
        );
        for model_only in ["parameters", "diverged_at_step", "final_train_ppl"] {
            assert!(t.get(model_only).is_none(), "{model_only} in {t}");
        }
    }

    // The curves: step, every metric the program reported, elapsed_s; the values of
    // metrics.jsonl, one row per line that reported a step.
    let curves = server.json(&format!("/api/curves?trial={id}"));
    let columns: Vec<&str> = curves["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["step", "train_loss", "val_loss", "val_ppl", "elapsed_s"]
    );
    let jsonl = ws.results().join("trials").join(&id).join("metrics.jsonl");
    let lines = metric_lines(&jsonl);
    assert_eq!(lines.len(), 4, "one line every 100 steps");
    let api_rows = curves["rows"].as_array().unwrap();
    assert_eq!(api_rows.len(), lines.len(), "{curves}");
    for (row, line) in api_rows.iter().zip(&lines) {
        for (k, name) in columns.iter().enumerate() {
            assert_eq!(row[k], line[*name], "{name} at step {}", line["step"]);
        }
    }
    let later = server.json(&format!("/api/curves?trial={id}&since=200"));
    let steps: Vec<u64> = later["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [300, 400]);

    // The program's files.
    let (code, body) = server.get(&format!("/files/trials/{id}/metrics.jsonl"));
    assert_eq!(code, 200);
    assert_eq!(body, std::fs::read_to_string(&jsonl).unwrap());
    let (code, body) = server.get(&format!("/files/trials/{id}/program.log"));
    assert_eq!(code, 200);
    assert!(body.contains("train.py"), "{body}");

    // The trial page: no sample command, and the environment's values hidden, there and in
    // config.json (which still names the variable).
    let page = server.json(&format!("/api/trial?id={id}"));
    assert_eq!(page["sample_command"], Value::Null);
    assert_eq!(page["config"]["program"]["env"]["API_TOKEN"], "(hidden)");
    assert!(page["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "metrics.jsonl"));
    let (code, config) = server.get(&format!("/files/trials/{id}/config.json"));
    assert_eq!(code, 200);
    assert!(config.contains("API_TOKEN"), "{config}");
    assert!(
        std::fs::read_to_string(ws.results().join("trials").join(&id).join("config.json"))
            .unwrap()
            .contains(SECRET)
    );
    for path in [
        format!("/api/trial?id={id}"),
        format!("/files/trials/{id}/config.json"),
        "/api/sweep".to_string(),
        "/api/trials".to_string(),
        "/api/summary".to_string(),
    ] {
        let (code, body) = server.get(&path);
        assert_eq!(code, 200, "{path}");
        assert!(!body.contains(SECRET), "{path} shows the secret: {body}");
    }
}
