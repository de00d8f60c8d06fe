//! A TPE search in waves: the `startup` configurations drawn at random, then `lag` at a time,
//! each proposed by TPE from the results of the configurations at least `lag` before it
//! ([`Tpe::learns_from`]). A wave is proposed once every earlier wave has finished, so a
//! proposal never depends on which trial ended first, on `--jobs`, the executor or an
//! interruption. Each proposal is stored in `proposals.jsonl` before it trains; a resumed or
//! extended search reads the stored ones back.
//!
//! What TPE learns from a configuration: its held-out perplexity after its last step, averaged
//! over its seeds. Under early stopping, a configuration stopped at a rung counts behind every
//! configuration that trained further (Optuna's rule for pruned trials); among those that
//! stopped at the same step, the lower held-out perplexity there is better. A configuration
//! with a failed or diverged trial counts behind all others. TPE is told the ranks.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::scoring::Scoring;
use super::{successive_halving, Ended};
use crate::measures::pareto::{rank_order, Score};
use crate::spec::plan::{searched_axes, TrialMaker};
use crate::spec::search::{self, Domain, EarlyStopping, Tpe};
use crate::spec::tpe::{propose, Scored};
use crate::spec::{GridSpec, Objectives, TrialConfig};
use crate::store::proposals::{self, Proposal, ProposedBy};
use crate::store::Store;

/// One configuration of the search.
pub(super) struct Configuration {
    pub(super) values: Vec<Value>,
    pub(super) key: String,
    pub(super) trials: Vec<TrialConfig>,
}

/// What the search needs besides the store: the grid file's trials and how to train them.
pub struct TpeSearch<'a> {
    /// The results folder.
    pub store: &'a Store,
    /// The grid file.
    pub spec: &'a GridSpec,
    /// Makes the trials of a configuration.
    pub maker: &'a TrialMaker<'a>,
    /// The search settings.
    pub tpe: Tpe,
    /// Early stopping within each wave, if the grid file asks for it.
    pub early_stopping: Option<&'a EarlyStopping>,
}

impl TpeSearch<'_> {
    /// Runs the waves in order: proposes (or reads back) each wave's configurations, tells
    /// `proposed` every trial planned so far, and trains the wave, with `train_full` (every
    /// trial to its end) or, under early stopping, by successive halving with `train`.
    pub fn run(
        &self,
        mut proposed: impl FnMut(&[TrialConfig]) -> anyhow::Result<()>,
        mut train_full: impl FnMut(&[TrialConfig]) -> anyhow::Result<Ended>,
        mut train: impl FnMut(&[TrialConfig]) -> anyhow::Result<Ended>,
    ) -> anyhow::Result<Ended> {
        let axes = searched_axes(self.spec);
        let digest = digest(&self.tpe, &axes, &self.spec.objectives);
        let startup = self.startup(&axes)?;
        let mut configs = self.resume(&axes, &digest, &startup)?;
        let steps = self.spec.base.steps();
        let waves = self.tpe.waves();
        let mut next_bracket = 0;
        for (w, wave) in waves.iter().enumerate() {
            for i in wave.clone() {
                if i < configs.len() {
                    continue;
                }
                let (by, values, learned) = if i < self.tpe.startup {
                    (ProposedBy::Random, startup[i].clone(), 0)
                } else {
                    let learned = self.tpe.learns_from(i);
                    let scored = self.scores(&configs[..learned]);
                    let taken: Vec<Vec<Value>> = configs.iter().map(|c| c.values.clone()).collect();
                    let values = propose(&axes, self.tpe.seed, i, &scored, &taken)
                        .map_err(|e| anyhow::anyhow!("TPE's proposal {}: {e}", i + 1))?;
                    (ProposedBy::Tpe, values, learned)
                };
                let config = self.configuration(values)?;
                proposals::append(
                    self.store.root(),
                    &Proposal {
                        index: i,
                        by,
                        config: config.key.clone(),
                        values: named(&axes, &config.values),
                        learned_from: configs[..learned].iter().map(|c| c.key.clone()).collect(),
                        search: digest.clone(),
                    },
                )?;
                configs.push(config);
            }
            let planned: Vec<TrialConfig> = configs[..wave.end]
                .iter()
                .flat_map(|c| c.trials.iter().cloned())
                .collect();
            proposed(&planned)?;
            let trials: Vec<TrialConfig> = configs[wave.clone()]
                .iter()
                .flat_map(|c| c.trials.iter().cloned())
                .collect();
            if w > 0 {
                let which = match wave.len() {
                    1 => format!("configuration {}", wave.end),
                    _ => format!("configurations {}–{}", wave.start + 1, wave.end),
                };
                eprintln!(
                    "TPE: {which} of {}, proposed from the results of the first {}",
                    self.tpe.trials,
                    self.tpe.learns_from(wave.end - 1)
                );
            }
            let trained = match self.early_stopping {
                None => train_full(&trials)?,
                Some(es) => {
                    let first = next_bracket;
                    next_bracket += es.brackets(wave.len(), steps).len();
                    successive_halving(self.store, &trials, es, &self.scoring(), first, &mut train)?
                }
            };
            if trained != Ended::Done {
                return Ok(trained);
            }
        }
        Ok(Ended::Done)
    }

    /// The configuration with these values of the searched axes.
    pub(super) fn configuration(&self, values: Vec<Value>) -> anyhow::Result<Configuration> {
        let trials = self.maker.trials_of(&values)?;
        let key = trials[0].config_key();
        Ok(Configuration {
            values,
            key,
            trials,
        })
    }

    /// The trials of the configurations chosen so far (stored proposals that still hold, or
    /// the random ones), without changing anything (for dry runs and the plan's summary line).
    pub fn planned(&self) -> anyhow::Result<Vec<TrialConfig>> {
        let axes = searched_axes(self.spec);
        let startup = self.startup(&axes)?;
        let (configs, _) = self.stored(
            &axes,
            &digest(&self.tpe, &axes, &self.spec.objectives),
            &startup,
        )?;
        let configs = if configs.len() < self.tpe.startup {
            startup
                .into_iter()
                .map(|values| self.configuration(values))
                .collect::<anyhow::Result<Vec<_>>>()?
        } else {
            configs
        };
        Ok(configs
            .iter()
            .take(self.tpe.trials)
            .flat_map(|c| c.trials.iter().cloned())
            .collect())
    }

    /// The random configurations.
    pub(super) fn startup(&self, axes: &[(String, Domain)]) -> anyhow::Result<Vec<Vec<Value>>> {
        search::draw(axes, self.tpe.startup, self.tpe.seed)
            .map_err(|e| anyhow::anyhow!("{}: `search`: {e}", self.spec.path.display()))
    }

    /// The configurations of the stored proposals that still hold; those after the first that
    /// does not are dropped from `proposals.jsonl`, with a warning, to be proposed again.
    pub(super) fn resume(
        &self,
        axes: &[(String, Domain)],
        digest: &str,
        startup: &[Vec<Value>],
    ) -> anyhow::Result<Vec<Configuration>> {
        let (configs, stored) = self.stored(axes, digest, startup)?;
        if configs.len() < stored.len() {
            eprintln!(
                "warning: the stored proposals from configuration {} on were made for other \
                 settings or configurations; proposing again from there",
                configs.len() + 1
            );
            proposals::keep(self.store.root(), &stored[..configs.len()])?;
        }
        Ok(configs)
    }

    /// The stored proposals that still hold: made under the same settings, from the same
    /// configurations; and all that are stored. The first that does not hold, and those after
    /// it, are to be proposed again.
    pub(super) fn stored(
        &self,
        axes: &[(String, Domain)],
        digest: &str,
        startup: &[Vec<Value>],
    ) -> anyhow::Result<(Vec<Configuration>, Vec<Proposal>)> {
        let stored = proposals::read(self.store.root())?;
        let mut configs: Vec<Configuration> = Vec::new();
        for p in &stored {
            let i = configs.len();
            let values: Option<Vec<Value>> = axes
                .iter()
                .map(|(name, _)| p.values.get(name).cloned())
                .collect();
            let learned = self.tpe.learns_from(i);
            let holds = p.index == i
                && p.search == digest
                && match p.by {
                    ProposedBy::Random => i < self.tpe.startup && values.as_ref() == startup.get(i),
                    ProposedBy::Tpe => {
                        i >= self.tpe.startup
                            && p.learned_from
                                .iter()
                                .eq(configs[..learned].iter().map(|c| &c.key))
                    }
                };
            let config = match values {
                Some(values) if holds => self.configuration(values).ok(),
                _ => None,
            };
            match config.filter(|c| c.key == p.config) {
                Some(c) => configs.push(c),
                None => break,
            }
        }
        Ok((configs, stored))
    }

    /// What TPE learns from `configs` (all finished): ranks, best first (see the module doc).
    fn scores(&self, configs: &[Configuration]) -> Vec<Scored> {
        self.scores_by(configs, |c| self.outcome(c))
    }

    /// What TPE learns from `configs`, ranked by `outcome`: whether a configuration failed,
    /// the steps it reached and its score there. Failed configurations come last, then those
    /// that reached fewer steps; among those that reached the same, [`rank_order`] decides
    /// (on several objectives: non-dominated sorting, then crowding, as MOTPE splits them).
    pub(super) fn scores_by(
        &self,
        configs: &[Configuration],
        outcome: impl FnMut(&Configuration) -> (bool, usize, Score),
    ) -> Vec<Scored> {
        let axes = searched_axes(self.spec);
        let outcomes: Vec<(bool, usize, Score)> = configs.iter().map(outcome).collect();
        let mut groups: Vec<(bool, std::cmp::Reverse<usize>)> = outcomes
            .iter()
            .map(|o| (o.0, std::cmp::Reverse(o.1)))
            .collect();
        groups.sort();
        groups.dedup();
        let mut order: Vec<usize> = Vec::with_capacity(configs.len());
        for group in groups {
            let members: Vec<usize> = (0..configs.len())
                .filter(|&c| (outcomes[c].0, std::cmp::Reverse(outcomes[c].1)) == group)
                .collect();
            let scores: Vec<Score> = members.iter().map(|&c| outcomes[c].2.clone()).collect();
            order.extend(rank_order(&scores).into_iter().map(|k| members[k]));
        }
        let mut rank = vec![0.0; configs.len()];
        for (r, &c) in order.iter().enumerate() {
            rank[c] = r as f64;
        }
        configs
            .iter()
            .zip(rank)
            .map(|(c, score)| {
                let params = c.trials[0].params();
                Scored {
                    values: c.values.clone(),
                    score,
                    unused: axes
                        .iter()
                        .map(|(name, _)| params.no_effect(name).is_some())
                        .collect(),
                }
            })
            .collect()
    }

    /// A finished configuration's outcome: whether it failed (a trial failed, has no result or
    /// a non-finite objective), the steps its trials reached, and its score there (the mean of
    /// each objective over its seeds, oriented so that lower is better).
    pub(super) fn outcome(&self, config: &Configuration) -> (bool, usize, Score) {
        let scoring = self.scoring();
        match scoring.finished(self.store, &config.trials) {
            Some((reached, score)) => (false, reached, score),
            None => (true, 0, Score::single(f64::INFINITY)),
        }
    }

    /// What the search ranks by: the grid file's reproducible objectives and constraints.
    pub fn scoring(&self) -> Scoring {
        Scoring::new(&self.spec.objectives)
    }
}

/// The values of a configuration by axis name.
pub(super) fn named(axes: &[(String, Domain)], values: &[Value]) -> Map<String, Value> {
    axes.iter()
        .map(|(name, _)| name.clone())
        .zip(values.iter().cloned())
        .collect()
}

/// A digest of what a proposal depends on besides results: the seed, `startup`, `lag` and the
/// searched axes, and the objectives when there are several (`trials` is not in it: raising
/// it keeps the earlier proposals).
pub(super) fn digest(tpe: &Tpe, axes: &[(String, Domain)], objectives: &Objectives) -> String {
    let axes: Vec<Value> = axes
        .iter()
        .map(|(name, domain)| match domain {
            Domain::List(values) => json!([name, values]),
            Domain::Range(r) => json!([name, format!("{:?}", r.kind), r.lo, r.hi]),
        })
        .collect();
    let mut text = json!({"seed": tpe.seed, "startup": tpe.startup, "lag": tpe.lag, "axes": axes});
    // Proposals learnt from several objectives are another search's (one objective keeps the
    // digests stored before objectives could be listed).
    let searched = objectives.searched();
    if searched.is_multi() {
        text["objectives"] = json!(searched);
    }
    let text = text.to_string();
    Sha256::digest(text.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
