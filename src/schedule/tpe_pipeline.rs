//! A TPE search without waves: configuration i is proposed from configurations 0…i − lag as
//! soon as those are known, a sliding window rather than a wave that waits for its slowest
//! member, so about `lag` configurations are always in flight. A [`Feed`] for the supervisor.
//!
//! What "known" means, and what TPE learns:
//! - every trial to its end: a configuration is known once all its trials have their result
//!   (TPE learns from it as [`TpeSearch`] does);
//! - under asynchronous successive halving ([`AshaSearch`]): once it has its result at the rung
//!   it entered at, in plan order; TPE learns from its objective at the first rung's step
//!   (every configuration reaches it; failed ones rank last). A higher rung's result would make
//!   a proposal wait on the trainings that promotions start, and on timing.
//!
//! Either way a proposal depends on stored results only, never on which trial ended first.

use std::collections::{HashSet, VecDeque};

use serde_json::Value;

use super::asha_search::{AshaSearch, Shape};
use super::halving::objective;
use super::tpe::{digest, named, Configuration, TpeSearch};
use crate::executor::supervise::{Feed, Outcome};
use crate::spec::plan::searched_axes;
use crate::spec::search::Domain;
use crate::spec::tpe::propose;
use crate::spec::{Mode, TrialConfig};
use crate::store::proposals::{self, Proposal, ProposedBy};
use crate::store::{Store, TrialStatus};

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
        let digest = digest(&search.tpe, &axes);
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
                    mode: search
                        .spec
                        .program
                        .as_ref()
                        .map_or(Mode::Min, |p| p.metric.mode),
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
                if !(0..learned).all(|c| self.known(c)) {
                    return Ok(());
                }
                let scored = match &self.training {
                    Training::Full { .. } => self
                        .search
                        .scores_by(&self.configs[..learned], |c| self.search.outcome(c)),
                    Training::Asha(asha) => {
                        let step = asha.first_step();
                        self.search.scores_by(&self.configs[..learned], |c| {
                            first_rung_outcome(self.search.store, c, step)
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

    /// Whether what TPE learns from configuration `c` is known.
    fn known(&self, c: usize) -> bool {
        match &self.training {
            Training::Full { busy, .. } => self.configs[c].trials.iter().all(|t| {
                !busy.contains(&t.id)
                    && matches!(self.search.store.trial(&t.id).result(),
                        Ok(Some(r)) if r.status != TrialStatus::Stopped)
            }),
            Training::Asha(asha) => asha.has_first_result(c),
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

/// A configuration's outcome at the first rung's `step`, from its trials' rows: whether one
/// failed before it or has no finite value there, and its mean objective (oriented).
fn first_rung_outcome(store: &Store, config: &Configuration, step: usize) -> (bool, usize, f64) {
    let mut sum = 0.0;
    for trial in &config.trials {
        let metric = objective(trial);
        let curves = store.trial(&trial.id).curves(trial).0;
        let value = (curves.last_step() >= step)
            .then(|| curves.value_at(&metric.name, step))
            .flatten()
            .filter(|v| v.is_finite());
        match value {
            Some(v) => sum += metric.mode.key(v),
            None => return (true, 0, f64::INFINITY),
        }
    }
    (false, step, sum / config.trials.len().max(1) as f64)
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
