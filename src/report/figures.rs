//! Which charts a sweep gets and what goes into them: the objective's curves of every
//! configuration (with its training counterpart: training perplexity for the built-in model,
//! `train_loss` beside a program's `val_loss`), one small chart per value of each axis
//! comparing the other axes, the heatmap of the first two axes, a scatter per ranged axis, the
//! search chart, the best-so-far charts and, with several objectives, the trade-off front. The same charts for every kind of trial, named by
//! the objective. Drawing is [`super::charts`]' job.

use std::path::Path;

use anyhow::Context;

use super::charts::{self, HeatScale, LineLabels, Series};
use super::front::Front;
use super::groups::{Config, Grouped};
use super::objective::Objective;
use super::summary::ChartLinks;

/// Size of the main curves chart.
const CURVES_SIZE: (u32, u32) = (1100, 700);
/// Size of each per-value chart.
const SMALL_SIZE: (u32, u32) = (700, 450);
/// Trailing-mean window of the training curves in the overview chart.
const OVERVIEW_SMOOTHING: usize = 20;
/// Size of the heatmap.
const HEATMAP_SIZE: (u32, u32) = (700, 500);

/// The best held-out perplexity known so far (a configuration's mean over seeds, once its last
/// seed finished all its steps): against seconds since the sweep's first trial started, and
/// against configurations in plan order (proposal order for TPE). `None` for a sweep of fewer
/// than four configurations, or fewer than two that finished, or without recorded times.
fn best_so_far(g: &Grouped) -> Option<(charts::Curve, charts::Curve)> {
    let start = g
        .configs
        .iter()
        .flat_map(|c| c.trials.iter().filter_map(|t| t.timing().started_at))
        .reduce(f64::min)?;
    // (plan position, seconds when known, value) of each configuration trained to its end.
    let mut known: Vec<(usize, f64, f64)> = g
        .configs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let finished: Option<Vec<f64>> = c
                .trials
                .iter()
                .map(|t| {
                    let r = t.result()?;
                    (r.status == crate::store::TrialStatus::Completed)
                        .then(|| t.timing().finished_at)
                        .flatten()
                })
                .collect();
            let at = finished?.into_iter().reduce(f64::max)?;
            let value = c.stats.value.map(|s| s.mean).filter(|v| v.is_finite())?;
            Some((i + 1, at - start, value))
        })
        .collect();
    if known.len() < 2 || g.configs.len() < 4 {
        return None;
    }
    // A step line: flat until each improvement, then on to `end`.
    let o = &g.objective;
    let steps = |points: &mut dyn Iterator<Item = (f64, f64)>, end: f64| {
        let mut best: Option<f64> = None;
        let mut line: Vec<(f64, f64)> = Vec::new();
        for (x, v) in points {
            if best.is_none_or(|b| o.better(v, b)) {
                if let Some(b) = best {
                    line.push((x, b));
                }
                best = Some(v);
                line.push((x, v));
            }
        }
        let best = best.unwrap_or(f64::NAN);
        if line.last().is_some_and(|p| p.0 < end) {
            line.push((end, best));
        }
        line
    };
    let configs = g.configs.len() as f64;
    let by_configuration = steps(&mut known.iter().map(|k| (k.0 as f64, k.2)), configs);
    known.sort_by(|a, b| a.1.total_cmp(&b.1));
    let last = known.last().map_or(0.0, |k| k.1);
    let by_time = steps(&mut known.iter().map(|k| (k.1, k.2)), last);
    let curve = |mean| charts::Curve {
        label: "best so far".into(),
        mean,
        band: Vec::new(),
    };
    Some((curve(by_time), curve(by_configuration)))
}

/// Draws every chart of `g` into `root` (PNG and SVG) and returns links relative to `root`.
pub fn draw_all(root: &Path, g: &Grouped) -> anyhow::Result<ChartLinks> {
    let mut links = ChartLinks::default();
    let o = &g.objective;
    let names = CurveNames::of(o);
    let labels = names.labels();
    let line_chart = |stem: &Path, title: &str, series: &[Series], size| {
        charts::labelled_line_chart(stem, title, &labels, series, size)
    };
    // Nine noisy curves on one chart are unreadable raw: the overview shows trailing means.
    let all: Vec<Series> = g
        .configs
        .iter()
        .filter_map(|c| series(c, &c.label, &names))
        .map(|s| smoothed(s, OVERVIEW_SMOOTHING))
        .collect();
    if all.is_empty() {
        remove_stale_charts(&root.join("charts"), &[])?;
        return Ok(links);
    }
    let title = match (o.builtin, names.train.is_some()) {
        (true, _) => format!("Perplexity per step (training: {OVERVIEW_SMOOTHING}-step mean)"),
        (false, true) => format!(
            "{} per step, mean over seeds ({}: {OVERVIEW_SMOOTHING}-row mean)",
            o.name(),
            names.line
        ),
        (false, false) => format!("{} per step, mean over seeds", o.name()),
    };
    line_chart(&root.join("curves"), &title, &all, CURVES_SIZE)?;
    links.curves = Some("curves.png".into());
    let metric = o.phrase(crate::report::Lang::En);
    let title_case = o.title(crate::report::Lang::En);
    if g.configs.iter().any(|c| !c.stats.stopped_at.is_empty()) {
        let lines: Vec<Series> = g
            .configs
            .iter()
            .filter_map(|c| objective_series(c, o.name()))
            .collect();
        line_chart(
            &root.join("search"),
            &format!("{title_case} per step (stopped configurations end at their rung)"),
            &lines,
            CURVES_SIZE,
        )?;
        links.search = Some("search.png".into());
    }
    if let Some((by_time, by_configuration)) = best_so_far(g) {
        charts::anytime(
            &root.join("best-over-time"),
            &format!("Best {metric} known so far, against wall time"),
            charts::AnytimeAxis::Seconds,
            &[by_time],
            SMALL_SIZE,
        )?;
        charts::anytime(
            &root.join("best-so-far"),
            &format!("Best {metric} so far, against configurations"),
            charts::AnytimeAxis::Configurations,
            &[by_configuration],
            SMALL_SIZE,
        )?;
        links.over_time = Some(("best-over-time.png".into(), "best-so-far.png".into()));
    }

    if let Some(front) = Front::of(g) {
        let names = (
            front.objectives[1].name.as_str(),
            front.objectives[0].name.as_str(),
        );
        let points: Vec<(f64, f64, charts::Standing)> = (0..g.configs.len())
            .filter_map(|i| {
                let v = &front.values[i];
                let standing = match (front.on_front[i], g.configs[i].feasible()) {
                    (true, _) => charts::Standing::Front,
                    (false, true) => charts::Standing::Dominated,
                    (false, false) => charts::Standing::Infeasible,
                };
                Some((v[1]?, v[0]?, standing))
            })
            .collect();
        charts::front(
            &root.join("front"),
            &format!(
                "{} against {}: the front (mean over seeds)",
                names.1, names.0
            ),
            names,
            &points,
            SMALL_SIZE,
        )?;
        links.front = Some("front.png".into());
    }

    let mut drawn = Vec::new();
    let scatters = scatter_charts(root, g, &mut drawn)?;
    let list_axes = g.list_axes();
    if list_axes.len() >= 2 {
        std::fs::create_dir_all(root.join("charts"))?;
        for (axis, name) in g.axes.iter().enumerate() {
            if g.ranged[axis] {
                links.per_value.push(scatters[axis].clone());
                continue;
            }
            let mut per_value = Vec::new();
            for value in &g.axis_values[axis] {
                let lines: Vec<Series> = g
                    .configs
                    .iter()
                    .filter(|c| &c.values[axis] == value)
                    .filter_map(|c| series(c, &others(g, c, axis), &names))
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                let compared = g.other_axes(axis);
                let title = format!("{name}={value}: by {}", compared.join(", "));
                let file = format!("{}-{}", slug(name), slug(value));
                line_chart(&root.join("charts").join(&file), &title, &lines, SMALL_SIZE)?;
                drawn.push(file.clone());
                per_value.push((value.clone(), format!("charts/{file}.png")));
            }
            links.per_value.push(per_value);
        }
        let (r, c) = (list_axes[0], list_axes[1]);
        let values = g.cross(r, c);
        let scale = HeatScale {
            higher_is_better: o.mode() == crate::spec::Mode::Max,
            decimals: o.decimals(),
        };
        charts::heatmap(
            &root.join("heatmap"),
            &format!("{title_case}: {} × {}", g.axes[r], g.axes[c]),
            &g.axes[r],
            &g.axis_values[r],
            &g.axes[c],
            &g.axis_values[c],
            &values,
            scale,
            HEATMAP_SIZE,
        )?;
        links.heatmap = Some("heatmap.png".into());
    }
    if list_axes.len() < 2 {
        links.per_value = scatters;
    }
    remove_stale_charts(&root.join("charts"), &drawn)?;
    Ok(links)
}

/// For each ranged axis, `charts/<param>.png`: the objective against the parameter's value,
/// one point per configuration that trained all its steps (log x for a log range), the best
/// ringed; nothing for list axes.
fn scatter_charts(
    root: &Path,
    g: &Grouped,
    drawn: &mut Vec<String>,
) -> anyhow::Result<Vec<Vec<(String, String)>>> {
    let mut out = vec![Vec::new(); g.axes.len()];
    for (axis, name) in g.axes.iter().enumerate() {
        if !g.ranged[axis] {
            continue;
        }
        let points: Vec<(f64, f64)> = g
            .configs
            .iter()
            .filter(|c| c.stats.completed > 0 && c.stats.diverged == 0)
            .filter_map(|c| Some((c.values[axis].parse::<f64>().ok()?, c.stats.value_mean())))
            .collect();
        if points.is_empty() {
            continue;
        }
        std::fs::create_dir_all(root.join("charts"))?;
        let file = slug(name);
        let o = &g.objective;
        let en = crate::report::Lang::En;
        let title = format!(
            "{} by {name} (configurations that trained all steps)",
            o.title(en)
        );
        charts::labelled_scatter(
            &root.join("charts").join(&file),
            &title,
            (name, &o.phrase(en)),
            g.log_ranged[axis],
            o.mode() == crate::spec::Mode::Max,
            &points,
            SMALL_SIZE,
        )?;
        drawn.push(file.clone());
        out[axis].push((name.clone(), format!("charts/{file}.png")));
    }
    Ok(out)
}

/// Removes the charts in `dir` that this report did not draw (values since removed from the
/// grid), so that the folder shows only the sweep last run.
fn remove_stale_charts(dir: &Path, drawn: &[String]) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let chart = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("png" | "svg")
        );
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if chart && !drawn.iter().any(|d| d == stem) {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the stale chart {}", path.display()))?;
        }
    }
    Ok(())
}

/// What a configuration's curves are drawn from: the objective (markers) and, where there is
/// one, its training counterpart (lines): `train_ppl` beside the built-in model's
/// `heldout_ppl`, `train_loss` beside a program's `val_loss`.
struct CurveNames {
    objective: String,
    train: Option<String>,
    /// What the lines and the y axis are called.
    line: String,
    y: String,
    markers: String,
}

impl CurveNames {
    fn of(o: &Objective) -> CurveNames {
        let train = train_counterpart(o.name());
        if o.builtin {
            let perplexity = LineLabels::PERPLEXITY;
            return CurveNames {
                objective: o.name().into(),
                train,
                line: perplexity.line.into(),
                y: perplexity.y.into(),
                markers: perplexity.markers.into(),
            };
        }
        let y = match &train {
            Some(t) => format!("{}, {t} (log scale)", o.name()),
            None => format!("{} (log scale)", o.name()),
        };
        CurveNames {
            objective: o.name().into(),
            line: train.clone().unwrap_or_else(|| "train".into()),
            train,
            y,
            markers: o.name().into(),
        }
    }

    fn labels(&self) -> LineLabels<'_> {
        LineLabels {
            y: &self.y,
            line: &self.line,
            markers: &self.markers,
        }
    }
}

/// The training metric drawn beside a held-out one, in the same units: `train_loss` for
/// `val_loss` (or `valid_`, `validation_`, `test_`, `eval_`, `heldout_` prefixes:
/// `train_ppl` for `heldout_ppl`).
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

/// The seed-mean curves of a configuration's completed trials that did not diverge (a
/// blown-up curve would flatten every other one): the training counterpart at each step all
/// of them reached, with a min–max band over seeds, and the objective where all of them
/// measured it; `None` when none completed or none has a value.
fn series(c: &Config, label: &str, names: &CurveNames) -> Option<Series> {
    let curves: Vec<_> = c
        .trials
        .iter()
        .filter(|t| t.healthy().is_some())
        .map(|t| t.curves())
        .filter(|c| !c.is_empty())
        .collect();
    if curves.is_empty() {
        return None;
    }
    // Each trial's values by step, then the steps every trial has.
    let at_every_seed = |name: &str| -> Vec<(f64, Vec<f64>)> {
        let each: Vec<Vec<(usize, f64)>> = curves.iter().map(|c| c.series(name)).collect();
        let mut by_step: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
        for s in &each {
            for &(step, v) in s {
                by_step.entry(step).or_default().push(v);
            }
        }
        by_step
            .into_iter()
            .filter(|(_, v)| v.len() == each.len())
            .map(|(step, v)| (step as f64, v))
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut train = Vec::new();
    let mut band = Vec::new();
    if let Some(name) = &names.train {
        for (step, values) in at_every_seed(name) {
            train.push((step, mean(&values)));
            if curves.len() > 1 {
                let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                band.push((step, lo, hi));
            }
        }
    }
    let heldout: Vec<(f64, f64)> = at_every_seed(&names.objective)
        .into_iter()
        .map(|(step, v)| (step, mean(&v)))
        .collect();
    (!train.is_empty() || !heldout.is_empty()).then(|| Series {
        label: label.to_string(),
        train,
        band,
        heldout,
    })
}

/// A configuration's objective at every step its trials measured it (mean over the seeds
/// measured there), diverged trials left out: a stopped configuration ends at its rung.
fn objective_series(c: &Config, metric: &str) -> Option<Series> {
    let mut by_step: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for t in &c.trials {
        if t.measures().is_none_or(|m| m.diverged.is_some()) {
            continue;
        }
        for (step, v) in t.curves().series(metric) {
            let e = by_step.entry(step).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    (!by_step.is_empty()).then(|| Series {
        label: c.label.clone(),
        train: Vec::new(),
        band: Vec::new(),
        heldout: by_step
            .into_iter()
            .map(|(step, (sum, n))| (step as f64, sum / n as f64))
            .collect(),
    })
}

/// `s` with its training curve and band replaced by trailing means over `window` steps.
fn smoothed(mut s: Series, window: usize) -> Series {
    let mean = |values: Vec<f64>| -> Vec<f64> {
        let mut out = Vec::with_capacity(values.len());
        let mut sum = 0.0;
        for i in 0..values.len() {
            sum += values[i];
            if i >= window {
                sum -= values[i - window];
            }
            out.push(sum / (i + 1).min(window) as f64);
        }
        out
    };
    let m = mean(s.train.iter().map(|p| p.1).collect());
    s.train = s.train.iter().zip(m).map(|(p, v)| (p.0, v)).collect();
    let lo = mean(s.band.iter().map(|b| b.1).collect());
    let hi = mean(s.band.iter().map(|b| b.2).collect());
    s.band = s
        .band
        .iter()
        .zip(lo.into_iter().zip(hi))
        .map(|(b, (l, h))| (b.0, l, h))
        .collect();
    s
}

/// `batch_size=32` for a configuration, leaving out `axis`.
fn others(g: &Grouped, c: &Config, axis: usize) -> String {
    g.axes
        .iter()
        .zip(&c.values)
        .enumerate()
        .filter(|(i, _)| *i != axis)
        .map(|(_, (a, v))| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file-name-safe form of a parameter name or value.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
