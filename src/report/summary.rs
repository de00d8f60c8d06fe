//! `summary.md`: what was run and a table of all trials sorted by held-out perplexity, the
//! best one marked ✅, followed by failures and the definitions of every number.

use std::fmt::Write;
use std::time::Duration;

use super::load::{SweepRecord, TrialRecord};
use crate::executor::worker::FINAL_TRAIN_WINDOW;
use crate::spec::params::PARAM_KEYS;

/// Facts about the run that are not in the stored results.
#[derive(Debug, Clone)]
pub struct Context {
    /// Tool version.
    pub version: String,
    /// Hardware threads of this machine.
    pub threads: usize,
}

impl Context {
    /// The running binary on this machine.
    pub fn of_this_machine() -> Context {
        Context {
            version: env!("CARGO_PKG_VERSION").into(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Renders the summary of `sweep`.
pub fn render(sweep: &SweepRecord, ctx: &Context) -> String {
    let m = &sweep.manifest;
    let mut out = String::new();
    let _ = writeln!(out, "# Sweep `{}`\n", m.name);
    header(&mut out, sweep, ctx);
    ranking(&mut out, sweep);
    failures(&mut out, sweep);
    definitions(&mut out);
    out
}

fn header(out: &mut String, sweep: &SweepRecord, ctx: &Context) {
    let m = &sweep.manifest;
    let count = |name: &str| {
        sweep
            .trials
            .iter()
            .filter(|t| t.status_name() == name)
            .count()
    };
    let mut states = vec![format!("{} completed", count("completed"))];
    for name in ["failed", "partial", "pending"] {
        let n = count(name);
        if n > 0 {
            states.push(format!("{n} {name}"));
        }
    }
    let swept = if m.axes.is_empty() {
        "nothing (a single configuration)".to_string()
    } else {
        m.axes.join(" × ")
    };
    let fixed: Vec<String> = sweep
        .trials
        .first()
        .map(|t| {
            PARAM_KEYS
                .iter()
                .filter(|k| !m.axes.iter().any(|a| a == *k))
                .filter_map(|k| t.config.params.get(k).map(|v| format!("{k} {}", plain(&v))))
                .collect()
        })
        .unwrap_or_default();
    let wall = m
        .wall_seconds
        .map_or_else(|| "not finished".to_string(), duration);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| grid file | `{}` |", m.grid_file.display());
    let _ = writeln!(out, "| corpus | {} |", m.corpus);
    let _ = writeln!(out, "| swept | {swept} |");
    let _ = writeln!(out, "| fixed | {} |", fixed.join(" · "));
    let _ = writeln!(
        out,
        "| trials | {}: {} |",
        sweep.trials.len(),
        states.join(", ")
    );
    let _ = writeln!(out, "| started | {} |", m.started_at);
    let _ = writeln!(
        out,
        "| wall time | {wall} ({} concurrent trials, {} hardware threads) |",
        m.jobs, ctx.threads
    );
    let _ = writeln!(out, "| tool | sweep {} |\n", ctx.version);
}

fn ranking(out: &mut String, sweep: &SweepRecord) {
    let axes: Vec<&str> = sweep.manifest.axes.iter().map(String::as_str).collect();
    let mut done: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.completed().and_then(|r| r.final_heldout_ppl).is_some())
        .collect();
    done.sort_by(|a, b| heldout(a).total_cmp(&heldout(b)));

    let _ = writeln!(out, "## Trials by held-out perplexity\n");
    if done.is_empty() {
        let _ = writeln!(out, "No trial has completed yet.\n");
        return;
    }
    let mut head = vec![" ".to_string()];
    head.extend(axes.iter().map(|a| a.to_string()));
    head.extend(
        [
            "parameters",
            "train ppl",
            "held-out ppl",
            "best held-out ppl",
            "steps/s",
            "wall",
            "id",
        ]
        .map(String::from),
    );
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for (rank, t) in done.iter().enumerate() {
        let r = t.completed().expect("filtered to completed");
        let mut cells = vec![if rank == 0 {
            "✅".into()
        } else {
            String::new()
        }];
        cells.extend(axes.iter().map(|a| {
            t.config
                .params
                .get(a)
                .map(|v| plain(&v))
                .unwrap_or_default()
        }));
        cells.push(r.parameters.map_or_else(|| "–".into(), thousands));
        cells.push(num(r.final_train_ppl, 2));
        cells.push(num(r.final_heldout_ppl, 2));
        cells.push(num(r.best_heldout_ppl, 2));
        cells.push(num(r.steps_per_sec, 0));
        cells.push(format!("{:.1} s", r.wall_seconds));
        cells.push(format!("`{}`", t.config.id));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let best = done[0];
    let _ = writeln!(
        out,
        "\n**Best:** {} — held-out perplexity {}.\n",
        best.config.label,
        num(best.completed().and_then(|r| r.final_heldout_ppl), 2)
    );
}

fn failures(out: &mut String, sweep: &SweepRecord) {
    let failed: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.status_name() == "failed")
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "## Failed trials\n");
        let _ = writeln!(
            out,
            "| trial | id | steps done | reason |\n|---|---|---|---|"
        );
        for t in failed {
            let r = t.result().expect("failed trials have a result");
            let reason = r.reason.as_deref().unwrap_or("").replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                t.config.label, t.config.id, r.steps_done, reason
            );
        }
        let _ = writeln!(out);
    }
    let unfinished: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.result().is_none())
        .collect();
    if !unfinished.is_empty() {
        let _ = writeln!(out, "## Unfinished trials\n");
        for t in unfinished {
            let _ = writeln!(
                out,
                "- {} (`{}`): {}, {} of {} steps",
                t.config.label,
                t.config.id,
                t.status_name(),
                t.metrics.len(),
                t.config.params.steps
            );
        }
        let _ = writeln!(out);
    }
}

fn definitions(out: &mut String) {
    let _ = writeln!(out, "## Definitions\n");
    let _ = writeln!(
        out,
        "- **train ppl**: perplexity exp(mean cross-entropy) of each training batch, averaged \
         over the last {FINAL_TRAIN_WINDOW} steps."
    );
    let _ = writeln!(
        out,
        "- **held-out ppl**: exp(mean cross-entropy) over the last 10% of the corpus, in \
         consecutive windows of `seq_len` characters with the hidden state starting at zero in \
         each, after the last step."
    );
    let _ = writeln!(
        out,
        "- **best held-out ppl**: the lowest held-out perplexity of the evaluations made every \
         `eval_every` steps and after the last step."
    );
    let _ = writeln!(
        out,
        "- **steps/s**: training steps per second of the trial's worker (one thread), \
         evaluations included; **wall**: the worker's whole run time."
    );
    let _ = writeln!(
        out,
        "- **parameters**: trainable scalars (embedding V×V, RNN, output layer)."
    );
}

/// `12.3 s` under a minute, `4m 5s` above.
fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        humantime::format_duration(Duration::from_secs(seconds.round() as u64)).to_string()
    }
}

fn heldout(t: &TrialRecord) -> f64 {
    t.completed()
        .and_then(|r| r.final_heldout_ppl)
        .unwrap_or(f64::INFINITY)
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn num(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{x:.decimals$}"))
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{CorpusRef, TrainParams, TrialConfig};
    use crate::store::{Manifest, TrialResult, TrialState, TrialStatus};

    fn trial(hidden: usize, heldout: Option<f64>, status: TrialStatus) -> TrialRecord {
        let params = TrainParams {
            hidden,
            ..TrainParams::default()
        };
        TrialRecord {
            config: TrialConfig {
                id: format!("id{hidden}"),
                label: format!("hidden={hidden}"),
                params,
                corpus: CorpusRef {
                    name: "timemachine".into(),
                    path: None,
                    sha256: "x".into(),
                },
                run: Default::default(),
            },
            state: TrialState::Finished(TrialResult {
                status,
                reason: (status == TrialStatus::Failed)
                    .then(|| "training loss became NaN at step 4".into()),
                steps_done: 1000,
                parameters: Some(29_884),
                final_train_ppl: heldout.map(|h| h - 1.0),
                final_heldout_ppl: heldout,
                best_heldout_ppl: heldout,
                steps_per_sec: Some(100.0),
                wall_seconds: 10.0,
            }),
            metrics: Vec::new(),
        }
    }

    fn sweep(trials: Vec<TrialRecord>) -> SweepRecord {
        SweepRecord {
            manifest: Manifest {
                name: "demo".into(),
                grid_file: "sweeps/demo.json".into(),
                corpus: "timemachine".into(),
                axes: vec!["hidden".into()],
                trials: trials.iter().map(|t| t.config.id.clone()).collect(),
                started_at: "2026-11-27T00:00:00Z".into(),
                wall_seconds: Some(75.0),
                jobs: 2,
            },
            trials,
        }
    }

    #[test]
    fn trials_are_sorted_by_heldout_and_the_best_is_marked() {
        let s = sweep(vec![
            trial(128, Some(9.0), TrialStatus::Completed),
            trial(200, Some(7.5), TrialStatus::Completed),
            trial(300, None, TrialStatus::Failed),
        ]);
        let md = render(
            &s,
            &Context {
                version: "9.9".into(),
                threads: 2,
            },
        );
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ✅") || l.starts_with("|  | "))
            .collect();
        assert_eq!(rows.len(), 2, "{md}");
        assert!(
            rows[0].starts_with("| ✅ | 200 | 29,884 | 6.50 | 7.50 |"),
            "{}",
            rows[0]
        );
        assert!(rows[1].starts_with("|  | 128 |"), "{}", rows[1]);
        assert!(md.contains("**Best:** hidden=200 — held-out perplexity 7.50."));
        assert!(md.contains("| trials | 3: 2 completed, 1 failed |"));
        assert!(md.contains("| hidden=300 | `id300` | 1000 | training loss became NaN at step 4 |"));
        assert!(md.contains("| wall time | 1m 15s (2 concurrent trials, 2 hardware threads) |"));
        assert!(md.contains("| fixed | cell rnn · batch_size 32 · seq_len 35 · lr 0.01 · steps 1000 · eval_every 100 · seed 0 |"), "{md}");
    }

    #[test]
    fn a_sweep_with_nothing_completed_says_so() {
        let md = render(
            &sweep(vec![trial(300, None, TrialStatus::Failed)]),
            &Context {
                version: "1".into(),
                threads: 1,
            },
        );
        assert!(md.contains("No trial has completed yet."));
        assert!(!md.contains("✅"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(29_884), "29,884");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
