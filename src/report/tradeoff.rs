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

/// "front of heldout_ppl and wall_seconds: hidden=128 batch_size=64, …" (for a terminal, after
/// the best configuration); `None` with one objective or no configuration on the front yet.
pub fn front_line(g: &Grouped) -> Option<String> {
    let front = Front::of(g)?;
    let members = front.members();
    if members.is_empty() {
        return None;
    }
    let names: Vec<&str> = front.objectives.iter().map(|m| m.name.as_str()).collect();
    let labels: Vec<&str> = members
        .iter()
        .map(|&i| g.configs[i].label.as_str())
        .collect();
    Some(format!(
        "front of {} ({} of {}): {}",
        names.join(" and "),
        members.len(),
        g.configs.len(),
        labels.join("; ")
    ))
}

/// The definitions' entry for the front; `None` for one objective and no constraints.
pub fn definition(g: &Grouped, lang: Lang) -> Option<String> {
    if !g.objectives.is_multi() {
        return None;
    }
    let sigmas = super::analysis::NOISE_SIGMAS;
    Some(match lang {
        Lang::En => format!("**front**: the configurations (means over their seeds, trials that completed without diverging) that keep every constraint and that no other such configuration dominates; one dominates another when it is at least as good on every objective and better on one by more than {sigmas}× that objective's seed noise (its seed-to-seed standard deviation pooled over the configurations), so a gain within the noise never removes a configuration. **infeasible**: the mean of a constrained value breaks its limit, or it has none; an infeasible configuration is never on the front and never the best. Successive halving and TPE rank by the metrics and `parameters` only (non-dominated sorting, then crowding distance; infeasible last): measured times and memory vary from run to run, and a search's decisions never depend on them."),
        Lang::Zh => format!("**前沿**：满足所有约束、且不被其他满足约束的配置支配的配置（取种子平均，只计完成且未发散的试验）；一个配置支配另一个，是指它在每个目标上都不差，且在某个目标上好出该目标种子噪声（种子间标准差在各配置上合并）的 {sigmas} 倍以上，因此噪声之内的优势不会把配置挤出前沿。**不可行**：受约束的数值的平均超出限制或没有数值；不可行的配置不会进入前沿，也不会成为最佳。逐次减半与 TPE 只按指标和 `parameters` 排序（非支配排序，再按拥挤距离；不可行的排最后）：测得的时间与内存每次运行都不同，搜索的决定从不依赖它们。"),
    })
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
                false => format!("the best {} on the front", front.objectives[0].name),
                true => format!("前沿上 {} 最好", front.objectives[0].name),
            },
            Some(p) => {
                let changes = changes(front, p, i, lang);
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
    best_off_the_front(out, g, front, lang);
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
                "Dominated (another configuration is at least as good on every objective and better on one beyond the noise): {}{tail}.\n",
                labels.join(", ")
            ),
            true => writeln!(out, "被支配（另有配置在每个目标上都不差、且在一个目标上好出噪声）：{}{tail}。\n", labels.join("，")),
        };
    }
}

/// When the best configuration by the first objective alone is off the front: which front
/// configuration dominates it, and by how much on each objective.
fn best_off_the_front(out: &mut String, g: &Grouped, front: &Front, lang: Lang) {
    let Some(best) = g.best() else {
        return;
    };
    let Some(i) = g.configs.iter().position(|c| c.label == best.label) else {
        return;
    };
    if front.on_front[i] {
        return;
    }
    let Some(j) = front.dominator(i) else {
        return;
    };
    let changes = changes(front, i, j, lang);
    let name = &front.objectives[0].name;
    let _ = match lang {
        Lang::En => writeln!(
            out,
            "The best configuration by {name} alone, **{}**, is off the front: against it, **{}** has {}; the {name} gap is within the seed noise.\n",
            best.label,
            g.configs[j].label,
            changes.join(", ")
        ),
        Lang::Zh => writeln!(
            out,
            "只按 {name} 最好的配置 **{}** 不在前沿上：与它相比，**{}** {}；{name} 的差距在种子噪声之内。\n",
            best.label,
            g.configs[j].label,
            changes.join("，")
        ),
    };
}

/// How configuration `to` compares with configuration `from` on each objective.
fn changes(front: &Front, from: usize, to: usize, lang: Lang) -> Vec<String> {
    front
        .objectives
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let (a, b) = (front.values[from][k], front.values[to][k]);
            change(&m.name, m.mode, a, b, lang)
        })
        .collect()
}

/// "wall_seconds 70% lower (better)": how `to` compares with `from` on one objective.
fn change(name: &str, mode: Mode, from: Option<f64>, to: Option<f64>, lang: Lang) -> String {
    let (Some(a), Some(b)) = (from, to) else {
        return format!("{name} –");
    };
    let zh = lang == Lang::Zh;
    if a == b {
        return match zh {
            false => format!("{name} the same"),
            true => format!("{name} 相同"),
        };
    }
    let better = mode.key(b) < mode.key(a);
    // A percentage of the earlier value; of zero there is none, so the change itself.
    let amount = match a {
        0.0 => numbers::significant(Some((b - a).abs())),
        _ => format!(
            "{}%",
            numbers::significant(Some(((b - a) / a * 100.0).abs()))
        ),
    };
    match (zh, b > a, better) {
        (false, true, true) => format!("{name} {amount} higher (better)"),
        (false, true, false) => format!("{name} {amount} higher (worse)"),
        (false, false, true) => format!("{name} {amount} lower (better)"),
        (false, false, false) => format!("{name} {amount} lower (worse)"),
        (true, true, true) => format!("{name} 高 {amount}（更好）"),
        (true, true, false) => format!("{name} 高 {amount}（更差）"),
        (true, false, true) => format!("{name} 低 {amount}（更好）"),
        (true, false, false) => format!("{name} 低 {amount}（更差）"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_from_zero_is_written_as_the_change_itself() {
        assert_eq!(
            change("f", Mode::Min, Some(0.0), Some(3.0), Lang::En),
            "f 3 higher (worse)"
        );
        assert_eq!(
            change("f", Mode::Min, Some(4.0), Some(3.0), Lang::En),
            "f 25% lower (better)"
        );
        assert_eq!(
            change("f", Mode::Max, Some(2.0), Some(2.0), Lang::En),
            "f the same"
        );
    }
}
