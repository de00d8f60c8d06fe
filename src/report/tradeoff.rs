//! The summary's trade-off section for a sweep with several objectives or constraints: the
//! configurations on the front ([`Front`]), one line each, sorted along the first objective,
//! with what each gains and costs against the one before it; the dominated ones; and those
//! that break a constraint, with the constraint and their value.

use std::fmt::Write as _;

use super::front::Front;
use super::groups::Grouped;
use super::lang::Lang;
use super::numbers;
use crate::spec::Mode;

/// Writes the section (nothing for a sweep with one objective and no constraints);
/// `chart` is the front chart's file, relative to the results folder.
pub fn section(out: &mut String, g: &Grouped, lang: Lang, chart: Option<&str>) {
    if !g.objectives.is_multi() {
        return;
    }
    let zh = lang == Lang::Zh;
    let front = Front::of(g);
    let names: Vec<&str> = g.objectives.list.iter().map(|m| m.name.as_str()).collect();
    let _ = match (&front, zh) {
        (Some(_), false) => writeln!(out, "## Trade-off: {}\n", names.join(" against ")),
        (Some(_), true) => writeln!(out, "## 权衡：{}\n", names.join(" 与 ")),
        (None, false) => writeln!(out, "## Constraints\n"),
        (None, true) => writeln!(out, "## 约束\n"),
    };
    if !g.objectives.constraints.is_empty() {
        let list: Vec<String> = g
            .objectives
            .constraints
            .iter()
            .map(|c| format!("`{}`", c.text()))
            .collect();
        let _ = match zh {
            false => writeln!(out, "Constraints: {}.\n", list.join(", ")),
            true => writeln!(out, "约束：{}。\n", list.join("，")),
        };
    }
    if let Some(front) = &front {
        front_lines(out, g, front, lang);
        if let Some(chart) = chart {
            let _ = writeln!(out, "![{}]({chart})\n", names.join(" / "));
        }
    }
    infeasible_lines(out, g, lang);
}

/// The verdict's line: how many configurations are on the front and how many break a
/// constraint; `None` for one objective and no constraints.
pub fn verdict_line(g: &Grouped, lang: Lang) -> Option<String> {
    if !g.objectives.is_multi() {
        return None;
    }
    let zh = lang == Lang::Zh;
    let infeasible = g.configs.iter().filter(|c| !c.feasible()).count();
    let on = Front::of(g).map(|f| f.members().len());
    let names: Vec<&str> = g.objectives.list.iter().map(|m| m.name.as_str()).collect();
    let mut parts = Vec::new();
    if let Some(on) = on {
        parts.push(match zh {
            false => format!(
                "{} on the front of {}",
                numbers::count(on, "configuration"),
                names.join(" and ")
            ),
            true => format!("{on} 个配置在 {} 的前沿上", names.join(" 与 ")),
        });
    }
    parts.push(match zh {
        false => format!("{infeasible} break a constraint"),
        true => format!("{infeasible} 个违反约束"),
    });
    Some(match zh {
        false => format!("**Trade-off**: {} (see below).", parts.join("; ")),
        true => format!("**权衡**：{}（见下文）。", parts.join("；")),
    })
}

fn front_lines(out: &mut String, g: &Grouped, front: &Front, lang: Lang) {
    let zh = lang == Lang::Zh;
    let members = front.members();
    let noise: Vec<String> = front
        .objectives
        .iter()
        .zip(&front.noise)
        .filter_map(|(m, s)| {
            s.map(|s| {
                format!(
                    "{} ±{}",
                    m.name,
                    numbers::significant(Some(super::analysis::NOISE_SIGMAS * s))
                )
            })
        })
        .collect();
    let sigmas = super::analysis::NOISE_SIGMAS;
    let rule = match (noise.is_empty(), zh) {
        (true, false) => "with one seed per configuration the seed noise is unknown, so the means are compared as they are".to_string(),
        (true, true) => "每个配置只有一个种子，种子噪声未知，直接比较平均值".to_string(),
        (false, false) => format!(
            "a difference counts only beyond {sigmas}× the seed noise of its objective ({})",
            noise.join(", ")
        ),
        (false, true) => format!("差距超过该目标种子噪声的 {sigmas} 倍才算数（{}）", noise.join("，")),
    };
    let _ = match zh {
        false => writeln!(
            out,
            "{} of {} on the front: no other configuration is at least as good on every objective and better on one; {rule}. Sorted by {}, best first.\n",
            numbers::count(members.len(), "configuration"),
            g.configs.len(),
            front.objectives[0].name
        ),
        true => writeln!(
            out,
            "{} 个配置中有 {} 个在前沿上：没有别的配置在每个目标上都不差、且至少在一个目标上更好；{rule}。按 {} 从好到差排列。\n",
            g.configs.len(),
            members.len(),
            front.objectives[0].name
        ),
    };
    let mut previous: Option<usize> = None;
    for &i in &members {
        let config = &g.configs[i];
        let values: Vec<String> = front
            .objectives
            .iter()
            .zip(&front.values[i])
            .enumerate()
            .map(|(k, (m, v))| {
                let text = if k == 0 {
                    numbers::opt(*v, g.objective.decimals())
                } else {
                    numbers::significant(*v)
                };
                format!("{} {text}", m.name)
            })
            .collect();
        let against = match previous {
            None => match zh {
                false => format!("the best {}", front.objectives[0].name),
                true => format!("{} 最好", front.objectives[0].name),
            },
            Some(p) => {
                let changes: Vec<String> = front
                    .objectives
                    .iter()
                    .enumerate()
                    .map(|(k, m)| {
                        change(
                            &m.name,
                            m.mode,
                            front.values[p][k],
                            front.values[i][k],
                            lang,
                        )
                    })
                    .collect();
                match zh {
                    false => format!("against {}: {}", g.configs[p].label, changes.join(", ")),
                    true => format!("相对 {}：{}", g.configs[p].label, changes.join("，")),
                }
            }
        };
        let _ = match zh {
            false => writeln!(
                out,
                "- **{}**: {} — {against}.",
                config.label,
                values.join(", ")
            ),
            true => writeln!(
                out,
                "- **{}**：{} —— {against}。",
                config.label,
                values.join("，")
            ),
        };
        previous = Some(i);
    }
    let _ = writeln!(out);
    let dominated = front.dominated(g);
    if !dominated.is_empty() {
        let labels: Vec<&str> = dominated
            .iter()
            .take(12)
            .map(|&i| g.configs[i].label.as_str())
            .collect();
        let more = dominated.len().saturating_sub(labels.len());
        let tail = match (more, zh) {
            (0, _) => String::new(),
            (n, false) => format!(" and {n} more"),
            (n, true) => format!(" 等另外 {n} 个"),
        };
        let _ = match zh {
            false => writeln!(
                out,
                "Dominated (another configuration is as good on every objective and better on one): {}{tail}.\n",
                labels.join(", ")
            ),
            true => writeln!(out, "被支配（另有配置在每个目标上都不差、且至少一个更好）：{}{tail}。\n", labels.join("，")),
        };
    }
}

/// "wall_seconds 70% lower (better)": how `to` compares with `from` on one objective.
fn change(name: &str, mode: Mode, from: Option<f64>, to: Option<f64>, lang: Lang) -> String {
    let (Some(a), Some(b)) = (from, to) else {
        return format!("{name} –");
    };
    let zh = lang == Lang::Zh;
    if a == b || a == 0.0 {
        return match zh {
            false => format!("{name} the same"),
            true => format!("{name} 相同"),
        };
    }
    let percent = (b - a) / a.abs() * 100.0;
    let better = mode.key(b) < mode.key(a);
    let amount = numbers::significant(Some(percent.abs()));
    match (zh, b > a, better) {
        (false, true, true) => format!("{name} {amount}% higher (better)"),
        (false, true, false) => format!("{name} {amount}% higher (worse)"),
        (false, false, true) => format!("{name} {amount}% lower (better)"),
        (false, false, false) => format!("{name} {amount}% lower (worse)"),
        (true, true, true) => format!("{name} 高 {amount}%（更好）"),
        (true, true, false) => format!("{name} 高 {amount}%（更差）"),
        (true, false, true) => format!("{name} 低 {amount}%（更好）"),
        (true, false, false) => format!("{name} 低 {amount}%（更差）"),
    }
}

fn infeasible_lines(out: &mut String, g: &Grouped, lang: Lang) {
    let zh = lang == Lang::Zh;
    let broken: Vec<String> = g
        .configs
        .iter()
        .filter(|c| !c.feasible())
        .map(|c| {
            let why: Vec<String> = c
                .broken
                .iter()
                .map(|(k, v)| match (v, zh) {
                    (Some(v), _) => {
                        format!(
                            "`{}` ({} {})",
                            k.text(),
                            k.name,
                            numbers::significant(Some(*v))
                        )
                    }
                    (None, false) => format!("`{}` (no value)", k.text()),
                    (None, true) => format!("`{}`（无数值）", k.text()),
                })
                .collect();
            match zh {
                false => format!("- **{}** breaks {}.", c.label, why.join(", ")),
                true => format!("- **{}** 违反 {}。", c.label, why.join("，")),
            }
        })
        .collect();
    if broken.is_empty() {
        return;
    }
    let _ = match zh {
        false => writeln!(out, "Infeasible (never on the front, never the best):\n"),
        true => writeln!(out, "不可行（不会进入前沿，也不会成为最佳）：\n"),
    };
    for line in broken {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
}
