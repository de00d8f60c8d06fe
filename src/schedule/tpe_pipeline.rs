//! A TPE search without waves: configuration i is proposed from configurations 0…i − lag as
//! soon as those are known, a sliding window rather than a wave that waits for its slowest
//! member, so about `lag` configurations are always in flight. A [`Feed`] for the supervisor.
//!
//! What "known" means, and what TPE learns:
//! - every trial to its end: a configuration is known once all its trials have their result
//!   (TPE learns from it as [`TpeSearch`] does);
//! - under asynchronous successive halving ([`AshaSearch`]): once the results of the first
//!   i − lag configurations at the rung they entered are known, and the results at the next
//!   rung of those these promoted (in plan order, so the same ones whatever the timing). TPE
//!   learns each configuration's objective at the higher of the two it has (Optuna's rule:
//!   one that went further ranks first; failed ones rank last). The next rung's results are
//!   worth the wait: on `bench/replay/search.json`'s 300 runs, the ranks at step 300 agree
//!   with those at 900 far better than the ranks at step 100 do (Spearman 0.82 against
//!   0.47). Higher rungs would make a proposal wait on long trainings.
//!
//! Either way a proposal depends on stored results only, never on which trial ended first.

use std::collections::{HashSet, VecDeque};

use crate::measures::pareto::Score;
use serde_json::Value;

use super::asha_search::{AshaSearch, Shape};
use super::tpe::{digest, named, Configuration, TpeSearch};
use crate::executor::supervise::{Feed, Outcome};
use crate::spec::plan::searched_axes;
use crate::spec::search::Domain;
use crate::spec::tpe::propose;
use crate::spec::TrialConfig;
use crate::store::proposals::{self, Proposal, ProposedBy};
use crate::store::TrialStatus;

/// Makes trials ready to train to their end: prepares their folders and returns those that
/// still need training (the caller's triage: completed ones skipped, failed ones kept unless
/// asked to retry, shorter runs continued).
pub type Prepare<'a> = Box<dyn FnMut(&[TrialConfig]) -> anyhow::Result<Vec<TrialConfig>> + 'a>;

/// Called with every trial planned so far, each time a proposal adds some.
pub type Proposed<'a> = Box<dyn FnMut(&[TrialConfig]) -> anyhow::Result<()> + 'a>;

/// How the configurations train.
enum Training<'a> {
    /// Every trial to its end.
    Full {
        prepare: Prepare<'a>,
        queue: VecDeque<TrialConfig>,
        /// Trials queued or running.
        busy: HashSet<String>,
    },
    /// Asynchronous successive halving.
    Asha(Box<AshaSearch<'a>>),
}

/// A pipelined TPE search.
pub struct TpePipeline<'a> {
    search: &'a TpeSearch<'a>,
    axes: Vec<(String, Domain)>,
    digest: String,
    startup: Vec<Vec<Value>>,
    configs: Vec<Configuration>,
    training: Training<'a>,
    proposed: Proposed<'a>,
    notices: Vec<String>,
}

impl<'a> TpePipeline<'a> {
    /// The search, from its stored proposals (those that still hold), training every trial to
    /// its end with `prepare`, or by `search`'s asynchronous early stopping.
    pub fn new(
        search: &'a TpeSearch<'a>,
        prepare: Prepare<'a>,
        mut proposed: Proposed<'a>,
    ) -> anyhow::Result<TpePipeline<'a>> {
        let axes = searched_axes(search.spec);
        let digest = digest(&search.tpe, &axes, &search.spec.objectives);
        let startup = search.startup(&axes)?;
        let configs = search.resume(&axes, &digest, &startup)?;
        let planned: Vec<TrialConfig> = configs
            .iter()
            .flat_map(|c| c.trials.iter().cloned())
            .collect();
        proposed(&planned)?;
        let training = match search.early_stopping.filter(|es| es.method.is_async()) {
            Some(es) => Training::Asha(Box::new(AshaSearch::new(
                search.store,
                &planned,
                es,
                0,
                Shape {
                    steps: search.spec.base.steps(),
                    scoring: search.scoring(),
                    total: search.tpe.trials,
                },
            )?)),
            None => {
                let mut prepare = prepare;
                let queue: VecDeque<TrialConfig> = prepare(&planned)?.into();
                Training::Full {
                    prepare,
                    busy: queue.iter().map(|t| t.id.clone()).collect(),
                    queue,
                }
            }
        };
        let mut pipeline = TpePipeline {
            search,
            axes,
            digest,
            startup,
            configs,
            training,
            proposed,
            notices: Vec::new(),
        };
        pipeline.propose_ready()?;
        Ok(pipeline)
    }

    /// Proposes every configuration whose predecessors are known, in order.
    fn propose_ready(&mut self) -> anyhow::Result<()> {
        let tpe = self.search.tpe;
        while self.configs.len() < tpe.trials {
            let i = self.configs.len();
            let (by, values, learned) = if i < tpe.startup {
                (ProposedBy::Random, self.startup[i].clone(), 0)
            } else {
                let learned = tpe.learns_from(i);
                let scored = match &self.training {
                    Training::Full { .. } => {
                        if !(0..learned).all(|c| self.known(c)) {
                            return Ok(());
                        }
                        self.search
                            .scores_by(&self.configs[..learned], |c| self.search.outcome(c))
                    }
                    Training::Asha(asha) => {
                        let Some(evidence) = asha.evidence(learned) else {
                            return Ok(());
                        };
                        let mut evidence = evidence.into_iter();
                        self.search.scores_by(&self.configs[..learned], |_| {
                            let (step, score) =
                                evidence.next().unwrap_or((0, Score::single(f64::INFINITY)));
                            (!score.primary().is_finite(), step, score)
                        })
                    }
                };
                let taken: Vec<Vec<Value>> =
                    self.configs.iter().map(|c| c.values.clone()).collect();
                let values = propose(&self.axes, tpe.seed, i, &scored, &taken)
                    .map_err(|e| anyhow::anyhow!("TPE's proposal {}: {e}", i + 1))?;
                (ProposedBy::Tpe, values, learned)
            };
            let config = self.search.configuration(values)?;
            proposals::append(
                self.search.store.root(),
                &Proposal {
                    index: i,
                    by,
                    config: config.key.clone(),
                    values: named(&self.axes, &config.values),
                    learned_from: self.configs[..learned]
                        .iter()
                        .map(|c| c.key.clone())
                        .collect(),
                    search: self.digest.clone(),
                },
            )?;
            if by == ProposedBy::Tpe {
                self.notices.push(format!(
                    "TPE: configuration {} of {} ({}), proposed from the results of the first {learned}",
                    i + 1,
                    tpe.trials,
                    config.trials[0].config_label()
                ));
            }
            let trials = config.trials.clone();
            self.configs.push(config);
            let planned: Vec<TrialConfig> = self
                .configs
                .iter()
                .flat_map(|c| c.trials.iter().cloned())
                .collect();
            (self.proposed)(&planned)?;
            match &mut self.training {
                Training::Full {
                    prepare,
                    queue,
                    busy,
                } => {
                    for trial in prepare(&trials)? {
                        busy.insert(trial.id.clone());
                        queue.push_back(trial);
                    }
                }
                Training::Asha(asha) => asha.admit(&trials)?,
            }
        }
        Ok(())
    }

    /// Whether configuration `c`, trained to its end, has its result.
    fn known(&self, c: usize) -> bool {
        match &self.training {
            Training::Full { busy, .. } => self.configs[c].trials.iter().all(|t| {
                !busy.contains(&t.id)
                    && matches!(self.search.store.trial(&t.id).result(),
                        Ok(Some(r)) if r.status != TrialStatus::Stopped)
            }),
            Training::Asha(_) => false,
        }
    }

    /// Once the supervisor has returned without a stop: every configuration proposed and
    /// trained (and, under early stopping, every rung decided).
    pub fn finish(&self) -> anyhow::Result<()> {
        let left = self.search.tpe.trials - self.configs.len();
        if left > 0 {
            anyhow::bail!(
                "the TPE search stopped with {left} configurations still to propose; run the \
                 command again to go on"
            );
        }
        match &self.training {
            Training::Full { queue, busy, .. } if !queue.is_empty() || !busy.is_empty() => {
                anyhow::bail!(
                    "the TPE search stopped with {} trials still to train; run the command again \
                     to go on",
                    busy.len()
                )
            }
            Training::Full { .. } => Ok(()),
            Training::Asha(asha) => asha.finish(),
        }
    }
}

impl Feed for TpePipeline<'_> {
    fn ready(&mut self, room: usize) -> anyhow::Result<Vec<TrialConfig>> {
        self.propose_ready()?;
        match &mut self.training {
            Training::Full { queue, .. } => {
                let take = room.min(queue.len());
                Ok(queue.drain(..take).collect())
            }
            Training::Asha(asha) => asha.ready(room),
        }
    }

    fn waiting(&self) -> usize {
        match &self.training {
            Training::Full { queue, .. } => queue.len(),
            Training::Asha(asha) => asha.waiting(),
        }
    }

    fn ended(&mut self, trial: &TrialConfig, outcome: &Outcome) -> anyhow::Result<()> {
        match &mut self.training {
            Training::Full { busy, .. } => {
                busy.remove(&trial.id);
            }
            Training::Asha(asha) => asha.ended(trial, outcome)?,
        }
        if matches!(outcome, Outcome::Interrupted) {
            return Ok(());
        }
        self.propose_ready()
    }

    fn take_notices(&mut self) -> Vec<String> {
        let mut notices = std::mem::take(&mut self.notices);
        if let Training::Asha(asha) = &mut self.training {
            notices.extend(asha.take_notices());
        }
        notices
    }
}
