//! `summary.md`: the analysis a researcher would write by eye from the plots, computed from
//! the measurements: what was run, a verdict, configurations ranked by held-out perplexity, one
//! table per swept axis, a cross table, failures, every trial, and the definition of each
//! number. English or Chinese ([`Lang`]).

use std::fmt::Write;
use std::time::Duration;

use super::analysis::{self, Difference, Grade, Stat};
use super::groups::{Aggregate, AxisRow, Grouped};
use super::lang::{Lang, Words};
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
    /// Language of the text.
    pub lang: Lang,
}

impl Context {
    /// The running binary on this machine.
    pub fn of_this_machine(lang: Lang) -> Context {
        Context {
            version: env!("CARGO_PKG_VERSION").into(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lang,
        }
    }
}

/// Chart files to link, relative to the results folder.
#[derive(Debug, Clone, Default)]
pub struct ChartLinks {
    /// Perplexity curves of every configuration.
    pub curves: Option<String>,
    /// Heatmap of the first two axes.
    pub heatmap: Option<String>,
    /// Per axis (index into the non-seed axes): (value, chart) for each value of that axis.
    pub per_value: Vec<Vec<(String, String)>>,
}

/// Renders the summary of `sweep`.
pub fn render(sweep: &SweepRecord, ctx: &Context, charts: &ChartLinks) -> String {
    let w = ctx.lang.words();
    let g = Grouped::new(sweep);
    let mut out = String::new();
    let _ = writeln!(out, "# {} `{}`\n", w.sweep, sweep.manifest.name);
    header(&mut out, sweep, &g, ctx);
    let _ = writeln!(out, "## {}\n", w.verdict);
    for line in verdict(&g, ctx.lang) {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(out);
    configurations(&mut out, &g, w, charts);
    for axis in 0..g.axes.len() {
        axis_section(&mut out, &g, axis, w, ctx.lang, charts);
    }
    if g.axes.len() >= 2 {
        cross_table(&mut out, &g, w, charts);
    }
    failures(&mut out, sweep, w);
    all_trials(&mut out, sweep, w);
    definitions(&mut out, ctx.lang);
    out
}

fn header(out: &mut String, sweep: &SweepRecord, g: &Grouped, ctx: &Context) {
    let w = ctx.lang.words();
    let m = &sweep.manifest;
    let count = |name: &str| sweep.count(name);
    let mut states = vec![format!("{} {}", count("completed"), w.completed)];
    for (name, word) in [
        ("failed", w.failed),
        ("running", w.running),
        ("partial", w.partial),
        ("pending", w.pending),
    ] {
        let n = count(name);
        if n > 0 {
            states.push(format!("{n} {word}"));
        }
    }
    let swept = if m.axes.is_empty() {
        w.nothing_swept.to_string()
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
        .map_or_else(|| w.not_finished.to_string(), duration);
    let seeds: Vec<String> = g.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| {} | `{}` |", w.grid_file, m.grid_file.display());
    let _ = writeln!(out, "| {} | {} |", w.corpus, m.corpus);
    let _ = writeln!(out, "| {} | {swept} |", w.swept);
    let _ = writeln!(out, "| {} | {} |", w.fixed, fixed.join(" · "));
    let _ = writeln!(out, "| {} | {} |", w.seeds, seeds.join(", "));
    let _ = writeln!(
        out,
        "| {} | {}: {} |",
        w.trials,
        sweep.trials.len(),
        states.join(", ")
    );
    let _ = writeln!(out, "| {} | {} |", w.started, m.started_at);
    let _ = writeln!(
        out,
        "| {} | {wall} ({} {}, {} {}) |",
        w.wall_time, m.jobs, w.concurrent, ctx.threads, w.hardware_threads
    );
    let _ = writeln!(out, "| {} | sweep {} |\n", w.tool, ctx.version);
}

/// The verdict: best configuration, best value per axis against seed noise, overfitting and
/// divergence.
pub fn verdict(g: &Grouped, lang: Lang) -> Vec<String> {
    let mut lines = Vec::new();
    let zh = lang == Lang::Zh;
    let Some(best) = g.best() else {
        lines.push(lang.words().no_completed.to_string());
        return lines;
    };
    lines.push(if zh {
        format!(
            "最佳配置：**{}**，验证困惑度 {}（{} 个种子）。",
            best.label,
            fmt_stat(best.stats.heldout, 2),
            best.stats.completed
        )
    } else {
        format!(
            "Best configuration: **{}**, held-out perplexity {} ({} seed{}).",
            best.label,
            fmt_stat(best.stats.heldout, 2),
            best.stats.completed,
            if best.stats.completed == 1 { "" } else { "s" }
        )
    });
    lines.push(match (g.seed_std, zh) {
        (Some(s), false) => format!(
            "Seed-to-seed noise: σ = {s:.3} held-out perplexity (pooled over configurations); \
             a difference is called real only when it exceeds {}σ = {:.3}.",
            analysis::NOISE_SIGMAS,
            analysis::NOISE_SIGMAS * s
        ),
        (Some(s), true) => format!(
            "种子间噪声：σ = {s:.3}（验证困惑度，各配置合并）；只有差距超过 {}σ = {:.3} 才算真实差异。",
            analysis::NOISE_SIGMAS,
            analysis::NOISE_SIGMAS * s
        ),
        (None, false) => "Only one seed per configuration: the seed-to-seed noise is unknown, so \
                          no difference below can be called real. Run with two or more seeds."
            .to_string(),
        (None, true) => "每个配置只有一个种子：种子间噪声未知，以下差异都无法判断是否真实。请使用两个或更多种子。"
            .to_string(),
    });
    for (axis, name) in g.axes.iter().enumerate() {
        let mut rows: Vec<AxisRow> = g
            .axis_rows(axis)
            .into_iter()
            .filter(|r| r.stats.heldout.is_some())
            .collect();
        if rows.len() < 2 {
            continue;
        }
        rows.sort_by(|a, b| a.stats.heldout_mean().total_cmp(&b.stats.heldout_mean()));
        let (first, second) = (&rows[0], &rows[1]);
        let gap = second.stats.heldout_mean() - first.stats.heldout_mean();
        let judgement = analysis::judge(
            first.stats.heldout_mean(),
            second.stats.heldout_mean(),
            g.seed_std,
        );
        let noise = g
            .seed_std
            .map(|s| analysis::NOISE_SIGMAS * s)
            .unwrap_or(0.0);
        let tail = match (judgement, zh) {
            (Difference::Clear, false) => {
                format!("the gap of {gap:.3} exceeds the seed noise ({noise:.3}): a real difference.")
            }
            (Difference::WithinNoise, false) => format!(
                "the gap of {gap:.3} is within the seed noise ({noise:.3}): a tie, not a real difference."
            ),
            (Difference::Unknown, false) => {
                format!("the gap of {gap:.3} cannot be judged with one seed.")
            }
            (Difference::Clear, true) => format!("差距 {gap:.3} 超过种子噪声（{noise:.3}）：是真实差异。"),
            (Difference::WithinNoise, true) => {
                format!("差距 {gap:.3} 在种子噪声（{noise:.3}）之内：打平，不是真实差异。")
            }
            (Difference::Unknown, true) => format!("差距 {gap:.3} 在只有一个种子时无法判断。"),
        };
        lines.push(if zh {
            format!(
                "**{name}**：最佳 {}（{}），其次 {}（{}）；{tail}",
                first.value,
                fmt_stat(first.stats.heldout, 2),
                second.value,
                fmt_stat(second.stats.heldout, 2)
            )
        } else {
            format!(
                "**{name}**: best {} ({}), runner-up {} ({}); {tail}",
                first.value,
                fmt_stat(first.stats.heldout, 2),
                second.value,
                fmt_stat(second.stats.heldout, 2)
            )
        });
    }
    let overfit: Vec<String> = g
        .configs
        .iter()
        .filter(|c| c.stats.overfitting > 0)
        .map(|c| {
            format!(
                "{} ({}/{})",
                c.label, c.stats.overfitting, c.stats.completed
            )
        })
        .collect();
    lines.push(match (overfit.is_empty(), zh) {
        (true, false) => "No sign of overfitting: held-out perplexity did not rise while training \
                          perplexity fell."
            .to_string(),
        (true, true) => "没有过拟合迹象：训练困惑度下降时验证困惑度没有上升。".to_string(),
        (false, false) => format!(
            "Overfitting (held-out rising while training falls) in: {}.",
            overfit.join(", ")
        ),
        (false, true) => format!("出现过拟合（训练下降而验证上升）：{}。", overfit.join("，")),
    });
    let failed: Vec<String> = g
        .configs
        .iter()
        .filter(|c| c.stats.failed > 0)
        .map(|c| format!("{} ({}/{})", c.label, c.stats.failed, c.stats.trials))
        .collect();
    lines.push(match (failed.is_empty(), zh) {
        (true, false) => "No trial diverged or failed.".to_string(),
        (true, true) => "没有试验发散或失败。".to_string(),
        (false, false) => format!("Diverged or failed (see below): {}.", failed.join(", ")),
        (false, true) => format!("发散或失败（见下文）：{}。", failed.join("，")),
    });
    lines
}

fn configurations(out: &mut String, g: &Grouped, w: &Words, charts: &ChartLinks) {
    let _ = writeln!(out, "## {}\n", w.configurations);
    let ranked: Vec<_> = g
        .ranked()
        .into_iter()
        .filter(|c| c.stats.heldout.is_some())
        .collect();
    if ranked.is_empty() {
        let _ = writeln!(out, "{}\n", w.no_completed);
        return;
    }
    let mut head = vec![" ".to_string()];
    head.extend(g.axes.iter().cloned());
    head.extend(
        [
            w.seeds,
            w.parameters,
            w.train_ppl,
            w.heldout_ppl,
            w.best_heldout,
            w.convergence,
            w.volatility,
            w.steps_per_sec,
            w.wall,
            w.label,
        ]
        .map(String::from),
    );
    let aggregates: Vec<&Aggregate> = ranked.iter().map(|c| &c.stats).collect();
    let labels = labels(&aggregates, w);
    let mut rows = Vec::new();
    for (rank, (c, label)) in ranked.iter().zip(labels).enumerate() {
        let s = &c.stats;
        let mut cells = vec![if rank == 0 {
            "✅".into()
        } else {
            String::new()
        }];
        cells.extend(c.values.iter().cloned());
        cells.push(s.completed.to_string());
        cells.push(fmt_params(s.parameters));
        cells.push(fmt_stat(s.train, 2));
        cells.push(fmt_stat(s.heldout, 2));
        cells.push(fmt_stat(s.best_heldout, 2));
        cells.push(fmt_stat(s.convergence, 0));
        cells.push(fmt_stat(s.volatility, 3));
        cells.push(fmt_stat(s.steps_per_sec, 0));
        cells.push(s.wall.map_or_else(|| "–".into(), |w| duration(w.mean)));
        cells.push(label);
        rows.push(cells);
    }
    table(out, &head, &rows);
    if let Some(curves) = &charts.curves {
        let _ = writeln!(out, "![{}]({curves})\n", w.curves_caption);
        let _ = writeln!(out, "*{}*\n", w.curves_caption);
    }
}

fn axis_section(
    out: &mut String,
    g: &Grouped,
    axis: usize,
    w: &Words,
    lang: Lang,
    charts: &ChartLinks,
) {
    let name = &g.axes[axis];
    let others = g.other_axes(axis);
    let _ = writeln!(out, "## {name}\n");
    let over = if others.is_empty() {
        w.seeds.to_string()
    } else {
        format!("{} {}", others.join(", "), w.and_seeds)
    };
    let colon = if lang == Lang::Zh { "：" } else { ":" };
    let _ = writeln!(out, "{} {over}{colon}\n", w.averaged_over);
    axis_table(out, name, &g.axis_rows(axis), w);
    if !others.is_empty() {
        if let Some(best) = g.best() {
            let setting: Vec<String> = g
                .axes
                .iter()
                .zip(&best.values)
                .enumerate()
                .filter(|(i, _)| *i != axis)
                .map(|(_, (a, v))| format!("{a}={v}"))
                .collect();
            let _ = writeln!(out, "{} ({}){colon}\n", w.at_best, setting.join(" "));
            axis_table(out, name, &g.axis_rows_at_best(axis), w);
        }
    }
    let _ = writeln!(out, "{}\n", axis_note(lang));
    if let Some(per_value) = charts.per_value.get(axis).filter(|v| !v.is_empty()) {
        let _ = writeln!(out, "{}{colon}\n", w.charts);
        let images: Vec<String> = per_value
            .iter()
            .map(|(value, path)| format!("![{name}={value}]({path})"))
            .collect();
        let _ = writeln!(out, "{}\n", images.join(" "));
    }
}

fn axis_table(out: &mut String, name: &str, rows: &[AxisRow], w: &Words) {
    let head: Vec<String> = [
        name,
        w.convergence,
        w.volatility,
        w.train_ppl,
        w.heldout_ppl,
        w.parameters,
        w.label,
    ]
    .map(String::from)
    .to_vec();
    let aggregates: Vec<&Aggregate> = rows.iter().map(|r| &r.stats).collect();
    let labels = labels(&aggregates, w);
    let best = rows
        .iter()
        .map(|r| r.stats.heldout_mean())
        .fold(f64::INFINITY, f64::min);
    let body: Vec<Vec<String>> = rows
        .iter()
        .zip(labels)
        .map(|(r, label)| {
            let s = &r.stats;
            let mark = if s.heldout.is_some() && s.heldout_mean() == best {
                " ✅"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", r.value),
                fmt_stat(s.convergence, 0),
                fmt_stat(s.volatility, 3),
                fmt_stat(s.train, 2),
                fmt_stat(s.heldout, 2),
                fmt_params(s.parameters),
                label,
            ]
        })
        .collect();
    table(out, &head, &body);
}

/// The measures of a per-axis table in one line, stated under it.
fn axis_note(lang: Lang) -> String {
    let margin = analysis::CONVERGENCE_MARGIN * 100.0;
    let window = analysis::SMOOTHING_WINDOW;
    let tail = analysis::VOLATILITY_TAIL * 100.0;
    let (near, far) = (analysis::LABEL_NEAR, analysis::LABEL_FAR);
    match lang {
        Lang::En => format!(
            "*Converged by step: first step where the {window}-step mean of training perplexity \
             is within {margin:.0}% of its final value. Volatility: std of the step-to-step change \
             of ln(training perplexity) over the last {tail:.0}% of training. Labels compare each \
             row with the table's best (≤ {near}×, ≤ {far}×, beyond). Mean ± std over the trials \
             of the row. Details under Definitions.*"
        ),
        Lang::Zh => format!(
            "*收敛步数：训练困惑度 {window} 步滑动平均首次进入最终值 {margin:.0}% 以内的步数。\
             波动性：训练后 {tail:.0}% 中相邻两步 ln(训练困惑度) 之差的标准差。评价与表中最佳一行相比\
             （≤ {near} 倍、≤ {far} 倍、更多）。数值为该行所有试验的平均值 ± 标准差。详见“指标定义”。*"
        ),
    }
}

/// The qualitative label of each row: speed and stability relative to the table's best row,
/// plus overfitting and failures.
fn labels(rows: &[&Aggregate], w: &Words) -> Vec<String> {
    let value = |s: Option<Stat>| s.map_or(f64::NAN, |s| s.mean);
    let speed = analysis::grade(
        &rows
            .iter()
            .map(|r| value(r.convergence))
            .collect::<Vec<_>>(),
    );
    let calm = analysis::grade(&rows.iter().map(|r| value(r.volatility)).collect::<Vec<_>>());
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let mut parts = Vec::new();
            if r.completed > 0 {
                parts.push(match speed[i] {
                    Grade::Best => w.fast,
                    Grade::Middle => w.medium,
                    Grade::Worst => w.slow,
                });
                parts.push(match calm[i] {
                    Grade::Best => w.stable,
                    Grade::Middle => w.moderate,
                    Grade::Worst => w.volatile,
                });
            }
            let mut label = parts.join(" · ");
            if r.overfitting > 0 {
                label.push_str(&format!(
                    " · {} {}/{}",
                    w.overfitting, r.overfitting, r.completed
                ));
            }
            if r.failed > 0 {
                label.push_str(&format!(" · {} {}/{}", w.diverged, r.failed, r.trials));
            }
            label.trim_start_matches(" · ").to_string()
        })
        .collect()
}

fn cross_table(out: &mut String, g: &Grouped, w: &Words, charts: &ChartLinks) {
    let (r, c) = (&g.axes[0], &g.axes[1]);
    let _ = writeln!(out, "## {}: {r} × {c}\n", w.cross_table);
    let values = g.cross(0, 1);
    let best = values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let mut head = vec![format!("{r} \\ {c}")];
    head.extend(g.axis_values[1].iter().cloned());
    let rows: Vec<Vec<String>> = g.axis_values[0]
        .iter()
        .zip(&values)
        .map(|(name, row)| {
            let mut cells = vec![name.clone()];
            cells.extend(row.iter().map(|v| match v {
                Some(v) if *v == best => format!("**{v:.2}** ✅"),
                Some(v) => format!("{v:.2}"),
                None => "–".into(),
            }));
            cells
        })
        .collect();
    table(out, &head, &rows);
    if let Some(heatmap) = &charts.heatmap {
        let _ = writeln!(out, "![{}]({heatmap})\n", w.heatmap_caption);
    }
}

fn failures(out: &mut String, sweep: &SweepRecord, w: &Words) {
    let failed: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.status_name() == "failed")
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "## {}\n", w.failed_trials);
        let head = [w.trial, "id", w.steps_done, w.reason].map(String::from);
        let rows: Vec<Vec<String>> = failed
            .iter()
            .map(|t| {
                let r = t.result().expect("failed trials have a result");
                vec![
                    t.config.label.clone(),
                    format!("`{}`", t.config.id),
                    r.steps_done.to_string(),
                    r.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(out, &head, &rows);
    }
    let unfinished: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.result().is_none())
        .collect();
    if !unfinished.is_empty() {
        let _ = writeln!(out, "## {}\n", w.unfinished_trials);
        for t in unfinished {
            let state = match t.status_name() {
                "running" => w.running,
                "partial" => w.partial,
                _ => w.pending,
            };
            let _ = writeln!(
                out,
                "- {} (`{}`): {state}, {}/{} {}",
                t.config.label,
                t.config.id,
                t.metrics.len(),
                t.config.params.steps,
                w.steps
            );
        }
        let _ = writeln!(out);
    }
}

fn all_trials(out: &mut String, sweep: &SweepRecord, w: &Words) {
    let mut done: Vec<&TrialRecord> = sweep
        .trials
        .iter()
        .filter(|t| t.completed().and_then(|r| r.final_heldout_ppl).is_some())
        .collect();
    if done.is_empty() {
        return;
    }
    done.sort_by(|a, b| heldout(a).total_cmp(&heldout(b)));
    let _ = writeln!(out, "## {}\n", w.all_trials);
    let head = [
        w.trial,
        w.train_ppl,
        w.heldout_ppl,
        w.best_heldout,
        w.steps_per_sec,
        w.wall,
        "id",
    ]
    .map(String::from);
    let rows: Vec<Vec<String>> = done
        .iter()
        .map(|t| {
            let r = t.completed().expect("filtered to completed");
            vec![
                t.config.label.clone(),
                num(r.final_train_ppl, 2),
                num(r.final_heldout_ppl, 2),
                num(r.best_heldout_ppl, 2),
                num(r.steps_per_sec, 0),
                duration(r.wall_seconds),
                format!("`{}`", t.config.id),
            ]
        })
        .collect();
    table(out, &head, &rows);
}

fn definitions(out: &mut String, lang: Lang) {
    let w = lang.words();
    let _ = writeln!(out, "## {}\n", w.definitions);
    let near = analysis::LABEL_NEAR;
    let far = analysis::LABEL_FAR;
    let lines: Vec<String> = if lang == Lang::Zh {
        vec![
            format!("**训练困惑度**：每个训练批次的 exp(平均交叉熵)，取最后 {FINAL_TRAIN_WINDOW} 步的平均。"),
            "**验证困惑度**：最后一步之后，在语料最后 10% 上按 `seq_len` 个字符的连续窗口（每个窗口隐藏状态从零开始）计算的 exp(平均交叉熵)。**最佳验证困惑度**：每 `eval_every` 步及最后一步评估中的最低值。".into(),
            format!(
                "**收敛步数**：训练困惑度经 {} 步滑动平均后，首次不超过该试验最终训练困惑度的 {:.0}% 以内的步数。评价“快/中等/慢”：不超过表中最快一行的 {near} 倍 / 不超过 {far} 倍 / 超过 {far} 倍。",
                analysis::SMOOTHING_WINDOW,
                (1.0 + analysis::CONVERGENCE_MARGIN) * 100.0 - 100.0
            ),
            format!(
                "**波动性**：训练后 {:.0}% 中相邻两步 ln(训练困惑度) 之差的标准差（0.05 约等于每步 ±5% 的跳动）。评价“稳定/有一定波动/波动大”相对于表中最平稳的一行，阈值同上。",
                analysis::VOLATILITY_TAIL * 100.0
            ),
            format!(
                "**过拟合**：最后 {} 次验证评估的平均值比之前最佳的一次高出 {:.0}% 以上，而训练困惑度仍在下降。**发散**：损失变为 NaN 或无穷大，或试验失败。",
                analysis::OVERFIT_TAIL,
                analysis::OVERFIT_MARGIN * 100.0
            ),
            format!(
                "**噪声判断**：同一配置不同种子之间验证困惑度的标准差，在所有至少有两个种子的配置上合并（方差平均后开方）；差距超过 {} 倍该值才称为真实差异，否则为打平。",
                analysis::NOISE_SIGMAS
            ),
            "**a ± b**：平均值 ± 样本标准差（n − 1），按表格说明对种子（及其他参数）取平均。**步/秒**：单线程 worker 每秒训练步数（不含验证评估的时间）；**用时**：worker 总运行时间。**参数量**：可训练标量个数（嵌入 V×V、RNN、输出层）。".into(),
        ]
    } else {
        vec![
            format!("**train ppl**: perplexity exp(mean cross-entropy) of each training batch, averaged over the last {FINAL_TRAIN_WINDOW} steps."),
            "**held-out ppl**: exp(mean cross-entropy) over the last 10% of the corpus, in consecutive windows of `seq_len` characters with the hidden state starting at zero in each, after the last step. **best held-out ppl**: the lowest of the evaluations made every `eval_every` steps and after the last step.".into(),
            format!(
                "**converged by step**: the first step at which the training perplexity, smoothed by a trailing mean over {} steps, is within {:.0}% of the trial's final train ppl. Labels fast / medium / slow: within {near}× of the fastest row of the table / within {far}× / beyond.",
                analysis::SMOOTHING_WINDOW,
                analysis::CONVERGENCE_MARGIN * 100.0
            ),
            format!(
                "**volatility**: the standard deviation of the step-to-step change of ln(train perplexity) over the last {:.0}% of training (0.05 ≈ jumps of ±5% from one step to the next). Labels stable / some fluctuation / volatile are relative to the smoothest row of the table, same thresholds.",
                analysis::VOLATILITY_TAIL * 100.0
            ),
            format!(
                "**overfitting**: the last {} held-out evaluations average more than {:.0}% above the best evaluation before them, while the training perplexity went on falling. **diverged**: the loss became NaN or infinite, or the trial failed.",
                analysis::OVERFIT_TAIL,
                analysis::OVERFIT_MARGIN * 100.0
            ),
            format!(
                "**seed noise**: the standard deviation of held-out perplexity between seeds of one configuration, pooled (root mean variance) over the configurations with two or more seeds. A difference is called real only when it exceeds {}× that; otherwise it is a tie.",
                analysis::NOISE_SIGMAS
            ),
            "**a ± b**: mean ± sample standard deviation (n − 1) over the seeds (and the other axes where a table says so). **steps/s**: training steps per second of the single-threaded worker, time spent in held-out evaluations excluded; **wall**: the worker's whole run time. **parameters**: trainable scalars (embedding V×V, RNN, output layer).".into(),
        ]
    };
    for line in lines {
        let _ = writeln!(out, "- {line}");
    }
}

/// Writes a markdown table.
fn table(out: &mut String, head: &[String], rows: &[Vec<String>]) {
    let esc = |s: &String| s.replace('|', "\\|").replace('\n', " ");
    let _ = writeln!(
        out,
        "| {} |",
        head.iter().map(esc).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for row in rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter().map(esc).collect::<Vec<_>>().join(" | ")
        );
    }
    let _ = writeln!(out);
}

/// `5.75 ± 0.03`, `5.75` for a single value, `–` for none.
fn fmt_stat(s: Option<Stat>, decimals: usize) -> String {
    match s {
        None => "–".into(),
        Some(Stat {
            mean, std: None, ..
        }) => format!("{mean:.decimals$}"),
        Some(Stat {
            mean,
            std: Some(sd),
            ..
        }) => format!("{mean:.decimals$} ± {sd:.decimals$}"),
    }
}

fn fmt_params(p: Option<(usize, usize)>) -> String {
    match p {
        None => "–".into(),
        Some((a, b)) if a == b => thousands(a),
        Some((a, b)) => format!("{}–{}", thousands(a), thousands(b)),
    }
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
#[path = "summary_tests.rs"]
mod tests;
