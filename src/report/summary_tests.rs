//! Tests of `summary.md` on synthetic sweeps with known answers.

use super::*;
use crate::spec::{CorpusRef, TrainParams, TrialConfig};
use crate::store::{Manifest, MetricRow, TrialResult, TrialState, TrialStatus};

/// A completed trial whose training perplexity decays to `floor` with time constant `tau`, with
/// deterministic jitter `noise`, and a held-out perplexity that ends at `heldout`.
fn trial(
    hidden: usize,
    batch: usize,
    seed: u64,
    heldout: f64,
    tau: f64,
    noise: f64,
) -> TrialRecord {
    let steps = 400;
    let mut state = seed * 7919 + hidden as u64 * 31 + batch as u64 + 1;
    let metrics: Vec<MetricRow> = (1..=steps)
        .map(|step| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let jitter = (state % 2001) as f64 / 1000.0 - 1.0;
            let ppl =
                (heldout - 0.5 + 30.0 * (-(step as f64) / tau).exp()) * (1.0 + noise * jitter);
            MetricRow {
                step,
                train_loss: ppl.ln(),
                train_ppl: ppl,
                heldout_ppl: (step % 100 == 0).then_some(heldout + 400.0 / step as f64 - 1.0),
                elapsed_s: step as f64 / 100.0,
            }
        })
        .collect();
    let params = TrainParams {
        hidden,
        batch_size: batch,
        seed,
        steps,
        ..TrainParams::default()
    };
    TrialRecord {
        config: TrialConfig {
            id: format!("h{hidden}b{batch}s{seed}"),
            label: format!("hidden={hidden} batch_size={batch} seed={seed}"),
            params,
            corpus: CorpusRef {
                name: "timemachine".into(),
                path: None,
                sha256: "x".into(),
            },
            run: Default::default(),
        },
        state: TrialState::Finished(TrialResult {
            status: TrialStatus::Completed,
            reason: None,
            steps_done: steps,
            parameters: Some(crate::model::count::language_model(
                crate::spec::Cell::Rnn,
                1,
                44,
                hidden,
            )),
            final_train_ppl: Some(heldout - 0.5),
            final_heldout_ppl: Some(metrics[steps - 1].heldout_ppl.unwrap()),
            best_heldout_ppl: Some(metrics[steps - 1].heldout_ppl.unwrap()),
            steps_per_sec: Some(100.0),
            wall_seconds: 4.0,
            peak_memory_mb: Some(40.0),
        }),
        metrics,
    }
}

fn failed(hidden: usize, batch: usize, seed: u64) -> TrialRecord {
    let mut t = trial(hidden, batch, seed, 9.0, 50.0, 0.0);
    t.metrics.truncate(7);
    t.state = TrialState::Finished(TrialResult {
        status: TrialStatus::Failed,
        reason: Some("training loss became NaN at step 8".into()),
        steps_done: 7,
        parameters: None,
        final_train_ppl: None,
        final_heldout_ppl: None,
        best_heldout_ppl: None,
        steps_per_sec: None,
        wall_seconds: 0.1,
        peak_memory_mb: None,
    });
    t
}

fn sweep(trials: Vec<TrialRecord>, axes: &[&str]) -> SweepRecord {
    SweepRecord {
        manifest: Manifest {
            name: "demo".into(),
            grid_file: "sweeps/demo.json".into(),
            corpus: "timemachine".into(),
            axes: axes.iter().map(|a| a.to_string()).collect(),
            trials: trials.iter().map(|t| t.config.id.clone()).collect(),
            started_at: "2026-11-27T00:00:00Z".into(),
            wall_seconds: Some(75.0),
            jobs: 2,
            executor: None,
        },
        trials,
    }
}

/// hidden 128/200 × batch 16/32 × seeds 0/1. Hidden 200 is clearly better (by 1.0, seed noise
/// 0.05); batch 16 and 32 tie (0.02 apart). Batch 16 is noisy, batch 32 smooth; hidden 128
/// converges slowly.
fn demo() -> SweepRecord {
    let mut trials = Vec::new();
    for hidden in [128, 200] {
        for batch in [16, 32] {
            for seed in [0, 1] {
                let heldout = if hidden == 200 { 6.0 } else { 7.0 }
                    + if batch == 16 { 0.02 } else { 0.0 }
                    + if seed == 0 { 0.05 } else { -0.05 };
                let tau = if hidden == 128 { 90.0 } else { 15.0 };
                let noise = if batch == 16 { 0.08 } else { 0.005 };
                trials.push(trial(hidden, batch, seed, heldout, tau, noise));
            }
        }
    }
    sweep(trials, &["hidden", "batch_size", "seed"])
}

fn ctx(lang: Lang) -> Context {
    Context {
        version: "9.9".into(),
        threads: 2,
        lang,
        sample: None,
    }
}

/// Every table has a header, a separator with as many cells, and rows with as many cells.
fn assert_well_formed(md: &str) {
    let lines: Vec<&str> = md.lines().collect();
    let cells = |l: &str| {
        l.trim()
            .trim_start_matches('|')
            .trim_end_matches('|')
            .replace("\\|", "")
            .split('|')
            .count()
    };
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('|') {
            let n = cells(lines[i]);
            assert!(
                lines[i + 1].starts_with("|---"),
                "no separator after {}",
                lines[i]
            );
            assert_eq!(cells(lines[i + 1]), n, "separator of {}", lines[i]);
            let mut j = i + 2;
            while j < lines.len() && lines[j].starts_with('|') {
                assert_eq!(cells(lines[j]), n, "row {} of table {}", lines[j], lines[i]);
                j += 1;
            }
            assert!(
                j == lines.len() || lines[j].is_empty(),
                "a table ends with a blank line"
            );
            i = j;
        } else {
            i += 1;
        }
    }
}

#[test]
fn the_verdict_separates_real_differences_from_ties() {
    let s = demo();
    let md = render(&s, &ctx(Lang::En), &ChartLinks::default());
    assert_well_formed(&md);
    assert!(
        md.contains("Best configuration: **hidden=200 batch_size=32**"),
        "{md}"
    );
    let hidden = md.lines().find(|l| l.starts_with("- **hidden**")).unwrap();
    assert!(
        hidden.contains("best 200") && hidden.contains("a real difference"),
        "{hidden}"
    );
    let batch = md
        .lines()
        .find(|l| l.starts_with("- **batch_size**"))
        .unwrap();
    assert!(
        batch.contains("best 32") && batch.contains("a tie, not a real difference"),
        "{batch}"
    );
    assert!(md.contains("Seed-to-seed noise: σ = 0.071"), "{md}");
    assert!(md.contains("No trial diverged or failed."));
}

#[test]
fn axis_tables_label_speed_and_volatility_from_the_curves() {
    let md = render(&demo(), &ctx(Lang::En), &ChartLinks::default());
    let row = |section: &str, value: &str| -> String {
        let start = md.find(&format!("## {section}\n")).unwrap();
        md[start..]
            .lines()
            .find(|l| l.starts_with(&format!("| {value} ")))
            .unwrap()
            .to_string()
    };
    assert!(
        row("hidden", "128").contains("slow"),
        "{}",
        row("hidden", "128")
    );
    assert!(
        row("hidden", "200").contains("fast"),
        "{}",
        row("hidden", "200")
    );
    assert!(
        row("batch_size", "16").contains("volatile"),
        "{}",
        row("batch_size", "16")
    );
    assert!(
        row("batch_size", "32").contains("stable"),
        "{}",
        row("batch_size", "32")
    );
    assert!(
        row("batch_size", "32 ✅").contains("6.50 ± 0.58"),
        "mean over hidden and seeds"
    );
    assert!(md.contains("At the best setting of the other axes (batch_size=32):"));
    assert!(md.contains("| hidden \\ batch_size | 16 | 32 |"));
    assert!(md.contains("| 200 | 6.02 | **6.00** ✅ |"), "{md}");
}

#[test]
fn configurations_are_ranked_with_the_best_marked_once() {
    let md = render(&demo(), &ctx(Lang::En), &ChartLinks::default());
    let start = md.find("## Configurations by held-out perplexity").unwrap();
    let rows: Vec<&str> = md[start..]
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0].starts_with("| ✅ | 200 | 32 | 2 | 59,980 |"),
        "{}",
        rows[0]
    );
    assert!(rows[3].starts_with("|  | 128 | 16 |"), "{}", rows[3]);
    assert_eq!(md.matches("| ✅ |").count(), 1);
}

#[test]
fn overfitting_and_failures_reach_the_verdict_and_labels() {
    let mut trials = vec![
        trial(128, 16, 0, 7.0, 30.0, 0.0),
        failed(128, 32, 0),
        trial(200, 16, 0, 6.0, 30.0, 0.0),
    ];
    // Held-out perplexity bottoms out at step 200, then rises while training falls.
    for r in trials[2].metrics.iter_mut() {
        if let Some(h) = r.heldout_ppl.as_mut() {
            *h = if r.step <= 100 {
                6.0
            } else {
                6.0 + r.step as f64 / 200.0
            };
        }
    }
    let md = render(
        &sweep(trials, &["hidden", "batch_size"]),
        &ctx(Lang::En),
        &ChartLinks::default(),
    );
    assert_well_formed(&md);
    assert!(md.contains("Overfitting (held-out rising while training falls) in: hidden=200 batch_size=16 (1/1)."), "{md}");
    assert!(
        md.contains("Diverged or failed (see below): hidden=128 batch_size=32 (1/1)."),
        "{md}"
    );
    assert!(md.contains("Only one seed per configuration"), "{md}");
    assert!(md.contains("| hidden=128 batch_size=32 seed=0 | `h128b32s0` | 7 | training loss became NaN at step 8 |"));
    assert!(md.contains("cannot be judged with one seed"));
}

#[test]
fn chinese_summary_has_the_same_numbers_with_chinese_labels() {
    let s = demo();
    let en = render(&s, &ctx(Lang::En), &ChartLinks::default());
    let zh = render(&s, &ctx(Lang::Zh), &ChartLinks::default());
    assert_well_formed(&zh);
    assert!(zh.contains("## 结论"));
    assert!(zh.contains("最佳配置：**hidden=200 batch_size=32**"));
    assert!(zh.contains("打平，不是真实差异"));
    assert!(zh.contains("波动大") && zh.contains("稳定"));
    let numbers = |md: &str| -> Vec<String> {
        md.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map(|w| w.trim_end_matches('.'))
            .filter(|w| w.contains('.') && w.len() > 2)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (mut a, mut b) = (numbers(&en), numbers(&zh));
    a.sort();
    b.sort();
    a.dedup();
    b.dedup();
    assert_eq!(a, b, "both languages report the same numbers");
}

#[test]
fn chart_links_appear_when_charts_exist() {
    let links = ChartLinks {
        curves: Some("curves.png".into()),
        heatmap: Some("heatmap.png".into()),
        per_value: vec![
            vec![("128".into(), "charts/hidden-128.png".into())],
            vec![("16".into(), "charts/batch_size-16.png".into())],
        ],
    };
    let md = render(&demo(), &ctx(Lang::En), &links);
    assert!(md.contains("](curves.png)"));
    assert!(md.contains("![hidden=128](charts/hidden-128.png)"));
    assert!(md.contains("](heatmap.png)"));
}

#[test]
fn the_best_trials_sample_is_quoted_on_one_line() {
    let s = demo();
    let best = best_trial(&s).expect("demo has completed trials");
    let lowest = s
        .trials
        .iter()
        .filter_map(|t| t.completed().and_then(|r| r.final_heldout_ppl))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.completed().unwrap().final_heldout_ppl, Some(lowest));
    let mut c = ctx(Lang::En);
    c.sample = Some(Sample {
        label: best.config.label.clone(),
        id: best.config.id.clone(),
        text: "time traveller\nsaid the".into(),
    });
    let md = render(&s, &c, &ChartLinks::default());
    assert!(md.contains("## Sample\n"), "{md}");
    assert!(
        md.contains(&format!("`sweep sample {}`", best.config.id)),
        "{md}"
    );
    assert!(md.contains("> time traveller said the\n"), "{md}");
    assert!(!render(&s, &ctx(Lang::En), &ChartLinks::default()).contains("## Sample"));
    assert_well_formed(&md);
}
