//! What the summary says about a TPE search: which configurations were drawn at random and
//! which TPE proposed, how each kind did, what TPE learned from, and which parameters it could
//! not learn about in some configurations (`dropout` with one layer).

use std::collections::HashMap;

use super::groups::{Config, Grouped};
use super::lang::Lang;
use super::load::SweepRecord;
use super::numbers;
use crate::store::proposals::{Proposal, ProposedBy};

/// How each configuration of a TPE search was chosen, by configuration key.
pub fn chosen(sweep: &SweepRecord) -> HashMap<&str, &Proposal> {
    sweep
        .proposals
        .iter()
        .map(|p| (p.config.as_str(), p))
        .collect()
}

/// The key of a configuration (its first trial's id with the seed left out).
pub fn key(config: &Config) -> String {
    config.trials[0].config.config_key()
}

/// The cell of the configurations table saying how `config` was chosen: `3 · random`,
/// `14 · TPE` (empty when it is not in `proposals.jsonl`).
pub fn chosen_cell(by: &HashMap<&str, &Proposal>, config: &Config, lang: Lang) -> String {
    by.get(key(config).as_str()).map_or_else(String::new, |p| {
        format!("{} · {}", p.index + 1, word(p.by, lang))
    })
}

fn word(by: ProposedBy, lang: Lang) -> &'static str {
    match (by, lang) {
        (ProposedBy::Random, Lang::En) => "random",
        (ProposedBy::Random, Lang::Zh) => "随机",
        (ProposedBy::Tpe, _) => "TPE",
    }
}

/// The verdict's lines about a TPE search (none for other searches).
pub fn lines(sweep: &SweepRecord, g: &Grouped, lang: Lang) -> Vec<String> {
    if sweep.proposals.is_empty() {
        return Vec::new();
    }
    let by = chosen(sweep);
    let in_sweep: Vec<&Proposal> = g
        .configs
        .iter()
        .filter_map(|c| by.get(key(c).as_str()).copied())
        .collect();
    let random = in_sweep
        .iter()
        .filter(|p| p.by == ProposedBy::Random)
        .count();
    let tpe = in_sweep.len() - random;
    let lag = sweep
        .proposals
        .iter()
        .find(|p| p.by == ProposedBy::Tpe)
        .map(|p| p.index + 1 - p.learned_from.len());
    let early = !sweep.rungs.is_empty();
    let mut lines = Vec::new();
    let mut first = match (lang, lag) {
        (Lang::En, Some(lag)) => format!(
            "**TPE**: {} drawn at random, then {} proposed by TPE, each from the results of the \
             configurations at least {lag} before it (the table's *chosen* column says which).",
            numbers::count(random, "configuration"),
            tpe
        ),
        (Lang::En, None) => format!(
            "**TPE**: the {} so far were drawn at random; TPE proposes once their results are in.",
            numbers::count(random, "configuration")
        ),
        (Lang::Zh, Some(lag)) => format!(
            "**TPE**：先随机抽取 {random} 个配置，再由 TPE 提出 {tpe} 个，每个只依据至少早 {lag} 个的配置的结果（表中“选择”列注明）。"
        ),
        (Lang::Zh, None) => {
            format!("**TPE**：目前的 {random} 个配置都是随机抽取的；结果出来后 TPE 才开始提出。")
        }
    };
    let metric = g.objective.phrase(lang);
    first.push_str(&match (lang, early) {
        (Lang::En, false) => format!(
            " TPE learns from each configuration's {metric} after its last step, averaged over \
             its seeds; a failed or diverged one counts as the worst."
        ),
        (Lang::En, true) => format!(
            " TPE learns from each configuration's {metric} after the last step it trained, \
             averaged over its seeds; a configuration stopped at a rung counts behind every one \
             that trained further, and a failed or diverged one as the worst."
        ),
        (Lang::Zh, false) => {
            format!("TPE 依据每个配置最后一步后的{metric}（种子平均）；失败或发散的配置算作最差。")
        }
        (Lang::Zh, true) => format!(
            "TPE 依据每个配置训练到的最后一步的{metric}（种子平均）；在某阶段被停止的配置排在所有训练得更远的配置之后，失败或发散的配置算作最差。"
        ),
    });
    lines.push(first);
    if tpe > 0 {
        lines.extend(comparison(g, &by, lang));
    }
    lines.extend(no_effect_lines(g, lang));
    lines
}

/// The best configuration of each kind, and how many of the five best TPE proposed.
fn comparison(g: &Grouped, by: &HashMap<&str, &Proposal>, lang: Lang) -> Option<String> {
    let ranked: Vec<&Config> = g
        .ranked()
        .into_iter()
        .filter(|c| c.stats.completed > 0 && c.stats.value.is_some())
        .collect();
    let kind = |c: &Config| by.get(key(c).as_str()).map(|p| p.by);
    let best_of = |k: ProposedBy| ranked.iter().find(|c| kind(c) == Some(k));
    let describe = |c: Option<&&Config>| {
        c.map_or_else(
            || "–".to_string(),
            |c| {
                let value = numbers::stat(c.stats.value, g.objective.decimals());
                format!("{value} ({})", c.label)
            },
        )
    };
    let top = ranked.len().min(5);
    if top == 0 {
        return None;
    }
    let tpe_in_top = ranked[..top]
        .iter()
        .filter(|c| kind(c) == Some(ProposedBy::Tpe))
        .count();
    let (random, tpe) = (
        describe(best_of(ProposedBy::Random)),
        describe(best_of(ProposedBy::Tpe)),
    );
    let metric = g.objective.phrase(lang);
    Some(match lang {
        Lang::En => format!(
            "Best {metric} of the random configurations: {random}; of TPE's: {tpe}. TPE \
             proposed {tpe_in_top} of the {top} best configurations that trained all their steps."
        ),
        Lang::Zh => format!(
            "随机配置中最佳{metric}：{random}；TPE 提出的配置中：{tpe}。训练完全部步数的前 {top} 名中有 {tpe_in_top} 个由 TPE 提出。"
        ),
    })
}

/// For each axis that had no effect in some configurations: how many, and that TPE learned
/// about it from the others only.
fn no_effect_lines(g: &Grouped, lang: Lang) -> Vec<String> {
    let mut lines = Vec::new();
    for axis in &g.axes {
        let mut why = None;
        let unused = g
            .configs
            .iter()
            .filter(|c| {
                let reason = c.trials[0].config.params().no_effect(axis);
                why = why.or(reason);
                reason.is_some()
            })
            .count();
        let Some(why) = why else { continue };
        let total = g.configs.len();
        lines.push(match lang {
            Lang::En => format!(
                "`{axis}` had no effect in {unused} of the {total} configurations ({why}): TPE \
                 learned about it from the other {} only.",
                total - unused
            ),
            Lang::Zh => format!(
                "`{axis}` 在 {total} 个配置中的 {unused} 个里不起作用（{}）：TPE 只从其余 {} 个配置中学习它。",
                zh_reason(why),
                total - unused
            ),
        });
    }
    lines
}

fn zh_reason(why: &str) -> &str {
    match why {
        "dropout acts between stacked layers only" => "dropout 只作用于堆叠层之间",
        other => other,
    }
}
