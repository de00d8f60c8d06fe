//! Which charts a sweep gets and what goes into them: the perplexity curves of every
//! configuration, one small chart per value of each axis comparing the other axes, and the
//! heatmap of the first two axes. Drawing is [`super::charts`]' job.

use std::path::Path;

use anyhow::Context;

use super::charts::{self, Series};
use super::groups::{Config, Grouped};
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
            let value = c.stats.heldout.map(|s| s.mean).filter(|v| v.is_finite())?;
            Some((i + 1, at - start, value))
        })
        .collect();
    if known.len() < 2 || g.configs.len() < 4 {
        return None;
    }
    // A step line: flat until each improvement, then on to `end`.
    let steps = |points: &mut dyn Iterator<Item = (f64, f64)>, end: f64| {
        let mut best = f64::INFINITY;
        let mut line: Vec<(f64, f64)> = Vec::new();
        for (x, v) in points {
            if v < best {
                if best.is_finite() {
                    line.push((x, best));
                }
                best = v;
                line.push((x, best));
            }
        }
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
    // Nine noisy curves on one chart are unreadable raw: the overview shows trailing means.
    let all: Vec<Series> = g
        .configs
        .iter()
        .filter_map(|c| series(c, &c.label))
        .map(|s| smoothed(s, OVERVIEW_SMOOTHING))
        .collect();
    if all.is_empty() {
        remove_stale_charts(&root.join("charts"), &[])?;
        return Ok(links);
    }
    let title = format!("Perplexity per step (training: {OVERVIEW_SMOOTHING}-step mean)");
    charts::line_chart(&root.join("curves"), &title, &all, CURVES_SIZE)?;
    links.curves = Some("curves.png".into());
    if g.configs.iter().any(|c| !c.stats.stopped_at.is_empty()) {
        let lines: Vec<Series> = g.configs.iter().filter_map(heldout_series).collect();
        charts::line_chart(
            &root.join("search"),
            "Held-out perplexity per step (stopped configurations end at their rung)",
            &lines,
            CURVES_SIZE,
        )?;
        links.search = Some("search.png".into());
    }
    if let Some((by_time, by_configuration)) = best_so_far(g) {
        charts::anytime(
            &root.join("best-over-time"),
            "Best held-out perplexity known so far, against wall time",
            charts::AnytimeAxis::Seconds,
            &[by_time],
            SMALL_SIZE,
        )?;
        charts::anytime(
            &root.join("best-so-far"),
            "Best held-out perplexity so far, against configurations",
            charts::AnytimeAxis::Configurations,
            &[by_configuration],
            SMALL_SIZE,
        )?;
        links.over_time = Some(("best-over-time.png".into(), "best-so-far.png".into()));
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
                    .filter_map(|c| series(c, &others(g, c, axis)))
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                let compared = g.other_axes(axis);
                let title = format!("{name}={value}: by {}", compared.join(", "));
                let file = format!("{}-{}", slug(name), slug(value));
                charts::line_chart(&root.join("charts").join(&file), &title, &lines, SMALL_SIZE)?;
                drawn.push(file.clone());
                per_value.push((value.clone(), format!("charts/{file}.png")));
            }
            links.per_value.push(per_value);
        }
        let (r, c) = (list_axes[0], list_axes[1]);
        let values = g.cross(r, c);
        charts::heatmap(
            &root.join("heatmap"),
            &format!("Held-out perplexity: {} × {}", g.axes[r], g.axes[c]),
            &g.axes[r],
            &g.axis_values[r],
            &g.axes[c],
            &g.axis_values[c],
            &values,
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

/// For each ranged axis, `charts/<param>.png`: held-out perplexity against the parameter's
/// value, one point per configuration that trained all its steps (log x for a log range);
/// nothing for list axes.
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
            .filter_map(|c| Some((c.values[axis].parse::<f64>().ok()?, c.stats.heldout_mean())))
            .collect();
        if points.is_empty() {
            continue;
        }
        std::fs::create_dir_all(root.join("charts"))?;
        let file = slug(name);
        let title =
            format!("Held-out perplexity by {name} (configurations that trained all steps)");
        charts::scatter(
            &root.join("charts").join(&file),
            &title,
            name,
            g.log_ranged[axis],
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

/// The seed-mean curve of a configuration's completed trials that did not diverge (a blown-up
/// curve would flatten every other one), with min–max band and held-out
/// points; `None` when none completed.
fn series(c: &Config, label: &str) -> Option<Series> {
    let curves: Vec<_> = c
        .trials
        .iter()
        .filter(|t| t.healthy().is_some() && !t.metrics().is_empty())
        .map(|t| t.metrics().as_slice())
        .collect();
    let len = curves.iter().map(|m| m.len()).min()?;
    let mut train = Vec::with_capacity(len);
    let mut band = Vec::with_capacity(len);
    let mut heldout = Vec::new();
    for i in 0..len {
        let step = curves[0][i].step as f64;
        let values: Vec<f64> = curves.iter().map(|m| m[i].train_ppl).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        train.push((step, mean));
        if curves.len() > 1 {
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            band.push((step, lo, hi));
        }
        let evals: Vec<f64> = curves.iter().filter_map(|m| m[i].heldout_ppl).collect();
        if evals.len() == curves.len() {
            heldout.push((step, evals.iter().sum::<f64>() / evals.len() as f64));
        }
    }
    Some(Series {
        label: label.to_string(),
        train,
        band,
        heldout,
    })
}

/// A configuration's held-out perplexity at every evaluation its trials reached (mean over the
/// seeds evaluated there), diverged trials left out: a stopped configuration ends at its rung.
fn heldout_series(c: &Config) -> Option<Series> {
    let mut by_step: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for t in &c.trials {
        if t.measures().is_none_or(|m| m.diverged.is_some()) {
            continue;
        }
        for r in t.metrics().iter() {
            if let Some(h) = r.heldout_ppl {
                let e = by_step.entry(r.step).or_insert((0.0, 0));
                e.0 += h;
                e.1 += 1;
            }
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
