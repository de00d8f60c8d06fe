//! Reports of a program sweep: `trials.csv`, `curves.csv` and `summary.md` written in terms of
//! the program's metric and free-form parameters. The built-in model's columns (perplexity,
//! parameter count, convergence, sample) do not exist for a program, so they are not shown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::analysis::Stat;
use super::charts::{self, LineLabels, Series};
use super::load::{Status, SweepRecord, TrialRecord};
use super::numbers;
use crate::spec::{display_value, MetricSpec, Mode};

/// Decimals of metric values in tables.
const DECIMALS: usize = 4;
/// A difference between configurations is real beyond this many times the seed noise.
const NOISE_FACTOR: f64 = 2.0;

/// One configuration (a set of parameters, all seeds) and its results.
struct Config<'a> {
    label: String,
    trials: Vec<&'a TrialRecord>,
    /// The metric's last value over the finished trials' seeds.
    last: Option<Stat>,
    /// The metric's best value over the finished trials' seeds.
    best: Option<Stat>,
    /// The steps its finished trials reached (fewer for a configuration that early stopping
    /// stopped at a rung).
    reached: usize,
}

/// The metric of the sweep in `sweep` (a program sweep's, or held-out perplexity).
fn metric(sweep: &SweepRecord) -> MetricSpec {
    sweep.manifest.objective()
}

/// The parameter names of the program trials, sorted.
fn param_keys(sweep: &SweepRecord) -> Vec<String> {
    let mut keys: Vec<String> = sweep
        .trials
        .iter()
        .flat_map(|t| t.config.params.keys())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A finished (completed or stopped-at-a-rung) trial's last metric value.
fn last_value(t: &TrialRecord) -> Option<f64> {
    let r = t.result()?;
    matches!(t.status(), Status::Completed | Status::Stopped)
        .then(|| r.objective())
        .flatten()
}

/// `trials.csv` of a program sweep: id, label, each parameter, then the outcome.
pub fn trials_csv(sweep: &SweepRecord) -> anyhow::Result<Vec<u8>> {
    let m = metric(sweep);
    let keys = param_keys(sweep);
    let chosen = super::proposals::chosen(sweep);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["id".into(), "label".into()];
    header.extend(keys.iter().cloned());
    header.extend([
        "proposal".to_string(),
        "proposed_by".into(),
        "status".into(),
        "steps_done".into(),
        format!("final_{}", m.name),
        format!("best_{}", m.name),
        format!("best_{}_step", m.name),
        "steps_per_sec".into(),
        "peak_memory_mb".into(),
        "wall_seconds".into(),
        "started_at".into(),
        "finished_at".into(),
        "worker_seconds".into(),
        "rungs_at".into(),
        "reason".into(),
    ]);
    w.write_record(&header)?;
    for t in &sweep.trials {
        let r = t.result();
        let outcome = r.and_then(|r| r.metric.as_deref());
        let proposal = chosen.get(t.config.config_key().as_str());
        let mut row = vec![t.config.id.clone(), t.config.label.clone()];
        row.extend(keys.iter().map(|k| {
            t.config
                .params
                .get(k)
                .map_or_else(String::new, |v| display_value(&v))
        }));
        row.extend([
            proposal.map_or_else(String::new, |p| (p.index + 1).to_string()),
            proposal.map_or_else(String::new, |p| match p.by {
                crate::store::proposals::ProposedBy::Random => "random".into(),
                crate::store::proposals::ProposedBy::Tpe => "tpe".into(),
            }),
            t.status().name().to_string(),
            r.map_or_else(|| t.curves().last_step(), |r| r.steps_done)
                .to_string(),
            float(outcome.and_then(|o| o.last)),
            float(outcome.and_then(|o| o.best)),
            outcome.map_or_else(String::new, |o| o.best_step.to_string()),
            float(r.and_then(|r| r.steps_per_sec)),
            float(r.and_then(|r| r.peak_memory_mb)),
            float(r.map(|r| r.wall_seconds)),
        ]);
        row.extend(super::tables::timing_columns(t));
        row.extend([r.and_then(|r| r.reason.clone()).unwrap_or_default()]);
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// `curves.csv` of a program sweep: trial_id, step, every metric any trial reported (in name
/// order), elapsed_s; a value a row did not report is empty.
pub fn curves_csv(sweep: &SweepRecord) -> anyhow::Result<Vec<u8>> {
    let mut names: Vec<String> = sweep
        .trials
        .iter()
        .flat_map(|t| {
            t.curves()
                .program()
                .iter()
                .flat_map(|r| r.values.keys().cloned())
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["trial_id".to_string(), "step".into()];
    header.extend(names.iter().cloned());
    header.push("elapsed_s".into());
    w.write_record(&header)?;
    for t in &sweep.trials {
        for r in t.curves().program() {
            let mut row = vec![t.config.id.clone(), r.step.to_string()];
            row.extend(names.iter().map(|n| float(r.values.get(n).copied())));
            row.push(float(Some(r.elapsed_s)));
            w.write_record(&row)?;
        }
    }
    Ok(w.into_inner()?)
}

fn float(x: Option<f64>) -> String {
    match x {
        None => String::new(),
        Some(x) if x.is_nan() => "nan".into(),
        Some(x) if x.is_infinite() => if x > 0.0 { "inf" } else { "-inf" }.into(),
        Some(x) => x.to_string(),
    }
}

/// The configurations of the sweep (trials grouped by parameters without the seed), best
/// first by the mean of the metric's last value; those without a result last, in plan order.
fn configurations(sweep: &SweepRecord, mode: Mode) -> Vec<Config<'_>> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&TrialRecord>> = BTreeMap::new();
    for t in &sweep.trials {
        let key = t.config.config_key();
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(t);
    }
    let mut configs: Vec<Config> = order
        .into_iter()
        .map(|key| {
            let trials = groups.remove(&key).expect("grouped");
            let last: Vec<f64> = trials.iter().filter_map(|t| last_value(t)).collect();
            let best: Vec<f64> = trials
                .iter()
                .filter(|t| last_value(t).is_some())
                .filter_map(|t| t.result().and_then(|r| r.best_objective()))
                .collect();
            let reached = trials
                .iter()
                .filter(|t| last_value(t).is_some())
                .filter_map(|t| t.result().map(|r| r.steps_done))
                .min()
                .unwrap_or(0);
            Config {
                label: match trials[0].config.config_label() {
                    label if label.is_empty() => "base".into(),
                    label => label,
                },
                trials,
                last: Stat::of(&last),
                best: Stat::of(&best),
                reached,
            }
        })
        .collect();
    // Those that trained further first (a value at an early rung is not comparable with one
    // after all steps), then by the metric.
    configs.sort_by(|a, b| {
        let key = |c: &Config| c.last.map_or(f64::INFINITY, |s| mode.key(s.mean));
        b.reached.cmp(&a.reached).then(key(a).total_cmp(&key(b)))
    });
    configs
}

/// The pooled standard deviation between seeds of one configuration (root mean variance over
/// the configurations with two or more finished seeds).
fn seed_noise(configs: &[Config]) -> Option<f64> {
    let variances: Vec<f64> = configs
        .iter()
        .filter_map(|c| c.last.and_then(|s| s.std))
        .filter(|s| s.is_finite())
        .map(|s| s * s)
        .collect();
    (!variances.is_empty()).then(|| (variances.iter().sum::<f64>() / variances.len() as f64).sqrt())
}

/// The charts of a program sweep's summary, as links relative to the results folder.
#[derive(Debug, Clone, Default)]
pub struct ProgramCharts {
    /// `curves.png`: the metric per step.
    pub curves: Option<String>,
    /// `charts/<axis>.png` by axis: the metric against a ranged parameter.
    pub scatters: BTreeMap<String, String>,
}

/// Draws a program sweep's charts into `root` (PNG and SVG): `curves.png`, each
/// configuration's metric per step, mean over its seeds (markers), with the training
/// counterpart where the program reports one (lines: `train_ppl` beside `val_ppl`); and for
/// each ranged axis `charts/<axis>.png`, the metric of each configuration that trained all its
/// steps against the parameter's value, the best ringed.
pub fn draw_charts(root: &std::path::Path, sweep: &SweepRecord) -> anyhow::Result<ProgramCharts> {
    let m = metric(sweep);
    let configs = configurations(sweep, m.mode);
    let mut drawn = ProgramCharts::default();
    let full = configs.first().map_or(0, |c| c.reached);
    for axis in &sweep.manifest.ranges {
        let points: Vec<(f64, f64)> = configs
            .iter()
            .filter(|c| c.reached == full)
            .filter_map(|c| {
                let x = c.trials[0].config.params.get(axis)?.as_f64()?;
                Some((x, c.last?.mean))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        std::fs::create_dir_all(root.join("charts"))?;
        let file = format!(
            "charts/{}",
            axis.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-")
        );
        charts::labelled_scatter(
            &root.join(&file),
            &format!("{} against {axis} (mean over seeds)", m.name),
            (axis, &m.name),
            sweep.manifest.log_ranges.contains(axis),
            m.mode == Mode::Max,
            &points,
            (700, 450),
        )?;
        drawn.scatters.insert(axis.clone(), format!("{file}.png"));
    }
    let train = train_counterpart(&m.name);
    let series: Vec<Series> = configs
        .iter()
        .map(|c| Series {
            label: c.label.clone(),
            train: train
                .as_deref()
                .map_or_else(Vec::new, |t| mean_series(&c.trials, t)),
            band: Vec::new(),
            heldout: mean_series(&c.trials, &m.name),
        })
        .filter(|s| !s.heldout.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(drawn);
    }
    let y = match train
        .as_deref()
        .filter(|_| series.iter().any(|s| !s.train.is_empty()))
    {
        Some(t) => format!("{}, {t} (log scale)", m.name),
        None => format!("{} (log scale)", m.name),
    };
    let labels = LineLabels {
        y: &y,
        line: train.as_deref().unwrap_or("train"),
        markers: &m.name,
    };
    let title = format!("{} per step (mean over seeds)", m.name);
    charts::labelled_line_chart(&root.join("curves"), &title, &labels, &series, (1100, 700))?;
    drawn.curves = Some("curves.png".into());
    Ok(drawn)
}

/// The training metric drawn beside a held-out one, in the same units: `train_loss` for
/// `val_loss` (or `valid_`, `validation_`, `test_`, `eval_`, `heldout_` prefixes).
fn train_counterpart(metric: &str) -> Option<String> {
    [
        "val_",
        "valid_",
        "validation_",
        "test_",
        "eval_",
        "heldout_",
    ]
    .iter()
    .find_map(|p| metric.strip_prefix(p))
    .filter(|rest| !rest.is_empty())
    .map(|rest| format!("train_{rest}"))
}

/// The mean over `trials` of `metric` at each step where any of them reported it.
fn mean_series(trials: &[&TrialRecord], metric: &str) -> Vec<(f64, f64)> {
    let mut by_step: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for t in trials {
        for (step, v) in t.curves().series(metric) {
            if v.is_finite() {
                let e = by_step.entry(step).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    by_step
        .into_iter()
        .map(|(step, (sum, n))| (step as f64, sum / n as f64))
        .collect()
}

/// `summary.md` of a program sweep, linking the charts of [`draw_charts`].
pub fn summary(sweep: &SweepRecord, version: &str, charts: &ProgramCharts) -> String {
    let m = metric(sweep);
    let manifest = &sweep.manifest;
    let configs = configurations(sweep, m.mode);
    let noise = seed_noise(&configs);
    let mut out = String::new();
    let _ = writeln!(out, "# Sweep `{}`\n", manifest.name);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| grid file | `{}` |", manifest.grid_file.display());
    if let Some(program) = &manifest.program {
        let _ = writeln!(out, "| program | `{}` |", program.replace('|', "\\|"));
    }
    let direction = match m.mode {
        Mode::Min => "lower is better",
        Mode::Max => "higher is better",
    };
    let _ = writeln!(out, "| metric | `{}` ({direction}) |", m.name);
    let swept: Vec<&str> = manifest.axes.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "| swept | {} |",
        if swept.is_empty() {
            "nothing".to_string()
        } else {
            swept.join(" × ")
        }
    );
    if let Some(t) = sweep.trials.first() {
        let fixed: Vec<String> = t
            .config
            .params
            .keys()
            .into_iter()
            .filter(|k| !manifest.axes.contains(k))
            .filter_map(|k| Some(format!("{k} {}", display_value(&t.config.params.get(&k)?))))
            .collect();
        let _ = writeln!(out, "| fixed | {} |", fixed.join(" · "));
    }
    let counts: Vec<String> = Status::ALL
        .iter()
        .filter(|s| sweep.count(**s) > 0)
        .map(|s| format!("{} {}", sweep.count(*s), s.name()))
        .collect();
    let _ = writeln!(out, "| trials | {}: {} |", sweep.total(), counts.join(", "));
    let _ = writeln!(out, "| started | {} |", manifest.started_at);
    if let Some(wall) = manifest.wall_seconds {
        let _ = writeln!(
            out,
            "| wall time | {} ({} concurrent trials) |",
            numbers::duration(wall),
            manifest.jobs
        );
    }
    if let Some(busy) = super::busy::Busy::of(sweep) {
        let _ = writeln!(
            out,
            "| worker time | {} (every attempt added up: the workers were {}) |",
            numbers::duration(busy.worker_seconds),
            busy.sentence()
        );
    }
    let _ = writeln!(out, "| tool | sweep {version} |\n");

    let _ = writeln!(out, "## Verdict\n");
    for line in verdict(&configs, noise, &m) {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Configurations by {}\n", m.name);
    let _ = writeln!(
        out,
        "| rank | configuration | steps | {0} | best {0} | seeds | steps/s | wall |",
        m.name
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (i, c) in configs.iter().enumerate() {
        let finished = c.last.map_or(0, |s| s.n);
        let rate = Stat::of(
            &c.trials
                .iter()
                .filter_map(|t| t.result().and_then(|r| r.steps_per_sec))
                .collect::<Vec<_>>(),
        );
        let wall: f64 = c
            .trials
            .iter()
            .filter_map(|t| t.result().map(|r| r.wall_seconds))
            .sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {finished}/{} | {} | {} |",
            if c.last.is_some() {
                (i + 1).to_string()
            } else {
                "–".into()
            },
            c.label,
            c.reached,
            numbers::stat(c.last, DECIMALS),
            numbers::stat(c.best, DECIMALS),
            c.trials.len(),
            rate.map_or_else(|| "–".into(), |s| format!("{:.0}", s.mean)),
            numbers::duration(wall),
        );
    }
    let _ = writeln!(
        out,
        "\n*{0}: the last value the program reported, mean ± std over the seeds that \
         finished; best {0}: the {1} value it reported. Configurations that early stopping \
         stopped at a rung (fewer steps) rank after those that trained further.*\n",
        m.name,
        if m.mode == Mode::Min {
            "lowest"
        } else {
            "highest"
        }
    );

    if let Some(chart) = &charts.curves {
        let _ = writeln!(out, "![{} per step]({chart})\n", m.name);
    }
    for axis in manifest.axes.iter().filter(|a| *a != "seed") {
        match charts.scatters.get(axis) {
            Some(chart) => {
                let _ = writeln!(out, "## {axis}\n\n![{} against {axis}]({chart})\n", m.name);
            }
            None => axis_section(&mut out, sweep, axis, &m),
        }
    }
    failures(&mut out, sweep);
    all_trials(&mut out, sweep, &m);
    let _ = writeln!(out, "## Definitions\n");
    let _ = writeln!(
        out,
        "- **{0}**: the value of `{0}` in the last metrics line that reported it; **best {0}**: \
         the {1} of all its values. Trials that failed take no part in rankings.\n\
         - **seed noise**: the standard deviation of the last {0} between seeds of one \
         configuration, pooled (root mean variance) over the configurations with two or more \
         seeds. A difference is called real only when it exceeds {NOISE_FACTOR}× that; \
         otherwise it is a tie.\n\
         - **a ± b**: mean ± sample standard deviation (n − 1) over the seeds. **steps/s**: the \
         steps between the program's first and last metrics lines over the seconds between \
         them (its start-up left out); **wall**: the workers' run time, start-up included, \
         added up over the seeds.",
        m.name,
        if m.mode == Mode::Min {
            "lowest"
        } else {
            "highest"
        }
    );
    out
}

/// The summary's verdict lines of a program sweep (what the dashboard shows).
pub fn verdict_lines(sweep: &SweepRecord) -> Vec<String> {
    let m = metric(sweep);
    let configs = configurations(sweep, m.mode);
    verdict(&configs, seed_noise(&configs), &m)
}

/// "best configuration: lr=5 — val_loss 2.3232 ± 0.0018 (2 seeds)" for a program sweep with a
/// finished trial; `None` otherwise.
pub fn best_line(sweep: &SweepRecord) -> Option<String> {
    sweep.manifest.metric.as_ref()?;
    let m = metric(sweep);
    let configs = configurations(sweep, m.mode);
    let best = configs.first()?;
    let stat = best.last?;
    Some(format!(
        "best configuration: {} — {} {} ({})",
        best.label,
        m.name,
        numbers::stat(Some(stat), DECIMALS),
        numbers::count(stat.n, "seed")
    ))
}

fn verdict(configs: &[Config], noise: Option<f64>, m: &MetricSpec) -> Vec<String> {
    let ranked: Vec<&Config> = configs.iter().filter(|c| c.last.is_some()).collect();
    let Some(best) = ranked.first() else {
        return vec!["No trial has finished yet.".into()];
    };
    let stat = best.last.expect("ranked");
    let mut lines = vec![format!(
        "Best configuration: **{}**, {} {} ({}).",
        best.label,
        m.name,
        numbers::stat(Some(stat), DECIMALS),
        numbers::count(stat.n, "seed")
    )];
    let stopped_early = ranked.iter().filter(|c| c.reached < best.reached).count();
    if stopped_early > 0 {
        lines.push(format!(
            "Early stopping stopped {} at a rung, before step {}: their {} is from fewer steps.",
            numbers::count(stopped_early, "configuration"),
            best.reached,
            m.name
        ));
    }
    if let Some(second) = ranked.get(1).filter(|c| c.reached == best.reached) {
        let gap = (second.last.expect("ranked").mean - stat.mean).abs();
        match noise {
            Some(noise) if gap <= NOISE_FACTOR * noise => lines.push(format!(
                "It ties with **{}** ({} {}): the difference {} is within {NOISE_FACTOR}× the \
                 seed noise ({}).",
                second.label,
                m.name,
                numbers::stat(second.last, DECIMALS),
                numbers::fixed(gap, DECIMALS),
                numbers::fixed(noise, DECIMALS)
            )),
            Some(noise) => lines.push(format!(
                "The runner-up, **{}** ({} {}), is {} behind: more than {NOISE_FACTOR}× the seed \
                 noise ({}), a real difference.",
                second.label,
                m.name,
                numbers::stat(second.last, DECIMALS),
                numbers::fixed(gap, DECIMALS),
                numbers::fixed(noise, DECIMALS)
            )),
            None => lines.push(format!(
                "The runner-up, **{}**, is {} behind; with one seed per configuration sweep \
                 cannot tell a real difference from seed noise (add `\"seeds\"`).",
                second.label,
                numbers::fixed(gap, DECIMALS)
            )),
        }
    }
    let failed = configs
        .iter()
        .flat_map(|c| &c.trials)
        .filter(|t| t.status() == Status::Failed)
        .count();
    lines.push(if failed == 0 {
        "No trial failed.".into()
    } else {
        format!(
            "{} failed (see Failures); failed trials take no part in the ranking.",
            numbers::count(failed, "trial")
        )
    });
    lines
}

fn axis_section(out: &mut String, sweep: &SweepRecord, axis: &str, m: &MetricSpec) {
    let mut values: Vec<(Value, Vec<f64>)> = Vec::new();
    for t in &sweep.trials {
        let Some(v) = t.config.params.get(axis) else {
            continue;
        };
        let i = match values.iter().position(|(x, _)| *x == v) {
            Some(i) => i,
            None => {
                values.push((v, Vec::new()));
                values.len() - 1
            }
        };
        if let Some(x) = last_value(t) {
            values[i].1.push(x);
        }
    }
    if sweep.manifest.ranges.iter().any(|r| r == axis) {
        // Drawn from a range: every trial has its own value; the table above lists them.
        return;
    }
    let _ = writeln!(out, "## {axis}\n");
    let _ = writeln!(out, "Averaged over the other axes and seeds:\n");
    let _ = writeln!(out, "| {axis} | {} | trials |", m.name);
    let _ = writeln!(out, "|---|---|---|");
    for (v, xs) in &values {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            display_value(v),
            numbers::stat(Stat::of(xs), DECIMALS),
            xs.len()
        );
    }
    let _ = writeln!(out);
}

fn failures(out: &mut String, sweep: &SweepRecord) {
    let failed: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.status() == Status::Failed)
        .collect();
    if failed.is_empty() && sweep.damaged.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Failures\n");
    for t in failed {
        let reason = t
            .result()
            .and_then(|r| r.reason.as_deref())
            .unwrap_or("no reason recorded");
        let _ = writeln!(
            out,
            "- `{}` {}: {}",
            t.config.id,
            t.config.label,
            reason.replace('\n', " ")
        );
    }
    for d in &sweep.damaged {
        let _ = writeln!(
            out,
            "- `{}`: {} is damaged: {}",
            d.id,
            d.file.display(),
            d.problem
        );
    }
    let _ = writeln!(out);
}

fn all_trials(out: &mut String, sweep: &SweepRecord, m: &MetricSpec) {
    let _ = writeln!(out, "## All trials\n");
    let _ = writeln!(
        out,
        "| id | trial | status | steps | {0} | best {0} (step) | steps/s | wall |",
        m.name
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for t in &sweep.trials {
        let r = t.result();
        let outcome = r.and_then(|r| r.metric.as_deref());
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            t.config.id,
            t.config.label,
            t.status().name(),
            r.map_or_else(|| t.curves().last_step(), |r| r.steps_done),
            numbers::opt(last_value(t), DECIMALS),
            outcome
                .and_then(|o| Some(format!(
                    "{} ({})",
                    numbers::fixed(o.best?, DECIMALS),
                    o.best_step
                )))
                .unwrap_or_else(|| "–".into()),
            r.and_then(|r| r.steps_per_sec)
                .map_or_else(|| "–".into(), |s| format!("{s:.0}")),
            r.map_or_else(|| "–".into(), |r| numbers::duration(r.wall_seconds)),
        );
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::spec::{GridSpec, Plan};
    use crate::store::{
        Curves, Manifest, MetricOutcome, ProgramRow, TrialResult, TrialState, TrialStatus,
    };

    /// A finished program sweep over `acc` (maximised) where lr=0.1 is best and one trial failed.
    fn sweep(mode: &str) -> SweepRecord {
        let text = format!(
            r#"{{ "program": {{"command": ["train"]}}, "metric": {{"name": "acc", "mode": "{mode}"}},
                 "base": {{"steps": 10}}, "grid": {{"lr": [0.1, 0.01, 1]}}, "seeds": [0, 1] }}"#
        );
        let spec = GridSpec::parse(Path::new("g.json"), &text).unwrap();
        let plan = Plan::build(&spec, None).unwrap();
        let trials = plan
            .trials
            .iter()
            .enumerate()
            .map(|(i, config)| {
                let lr = config.params.get("lr").unwrap().as_f64().unwrap();
                let acc = 0.5 + lr.min(0.1) * 3.0 + i as f64 * 0.001;
                let failed = lr == 1.0 && i % 2 == 1;
                let row = ProgramRow {
                    step: 10,
                    elapsed_s: 1.0,
                    values: [("acc".to_string(), acc)].into(),
                };
                let result = TrialResult {
                    status: if failed {
                        TrialStatus::Failed
                    } else {
                        TrialStatus::Completed
                    },
                    reason: failed.then(|| "program exited with code 3".to_string()),
                    steps_done: 10,
                    parameters: None,
                    final_train_ppl: None,
                    final_heldout_ppl: None,
                    best_heldout_ppl: None,
                    steps_per_sec: Some(10.0),
                    wall_seconds: 1.0,
                    peak_memory_mb: None,
                    vocab_size: None,
                    metric: Some(Box::new(MetricOutcome {
                        name: "acc".into(),
                        last: (!failed).then_some(acc),
                        last_step: 10,
                        best: Some(acc),
                        best_step: 10,
                    })),
                };
                TrialRecord::with_curves(
                    config.clone(),
                    TrialState::Finished(result),
                    Curves::Program(Arc::new(vec![row])),
                )
            })
            .collect();
        SweepRecord {
            manifest: Manifest {
                name: "demo".into(),
                grid_file: "g.json".into(),
                corpus: String::new(),
                program: Some("train".into()),
                metric: spec.program.map(|p| p.metric),
                axes: plan.axes.clone(),
                ranges: Vec::new(),
                log_ranges: Vec::new(),
                trials: plan.trials.iter().map(|t| t.id.clone()).collect(),
                started_at: "2026-11-30T00:00:00Z".into(),
                wall_seconds: Some(3.0),
                trained: None,
                jobs: 2,
                executor: None,
            },
            trials,
            damaged: Vec::new(),
            rungs: Vec::new(),
            proposals: Vec::new(),
            damaged_logs: Vec::new(),
        }
    }

    #[test]
    fn a_max_metric_ranks_the_highest_first_and_failures_take_no_part() {
        let s = sweep("max");
        let md = summary(&s, "test", &ProgramCharts::default());
        assert!(
            md.contains("Best configuration: **lr=1**, acc 0.8040 (1 seed)."),
            "{md}"
        );
        assert!(
            md.contains("The runner-up, **lr=0.1** (acc 0.8005 ± 0.0007)"),
            "{md}"
        );
        assert!(md.contains("| metric | `acc` (higher is better) |"), "{md}");
        assert!(md.contains("1 trial failed (see Failures)"), "{md}");
        assert!(md.contains("program exited with code 3"), "{md}");
        // The failed seed of lr=1 is left out of its mean.
        assert!(
            md.contains("| 1 | lr=1 | 10 | 0.8040 | 0.8040 | 1/2 |"),
            "{md}"
        );
        for model_only in ["perplexity", "ppl", "parameters", "## sample", "converged"] {
            assert!(
                !md.to_lowercase().contains(model_only),
                "{model_only}: {md}"
            );
        }
        assert_eq!(
            best_line(&s).unwrap(),
            "best configuration: lr=1 — acc 0.8040 (1 seed)"
        );
    }

    #[test]
    fn a_min_metric_ranks_the_lowest_first_and_the_tables_name_the_metric() {
        let s = sweep("min");
        assert!(best_line(&s)
            .unwrap()
            .starts_with("best configuration: lr=0.01 — acc 0.53"));
        let csv = String::from_utf8(trials_csv(&s).unwrap()).unwrap();
        let header = csv.lines().next().unwrap();
        assert!(header.starts_with("id,label,lr,seed,steps,proposal,proposed_by,status,steps_done,final_acc,best_acc,best_acc_step"), "{header}");
        let curves = String::from_utf8(curves_csv(&s).unwrap()).unwrap();
        assert_eq!(
            curves.lines().next().unwrap(),
            "trial_id,step,acc,elapsed_s"
        );
        assert_eq!(curves.lines().count(), 7);
    }
}
