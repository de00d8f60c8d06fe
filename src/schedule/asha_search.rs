//! Asynchronous successive halving (and asynchronous Hyperband) over a results folder: a
//! [`Feed`] that hands the supervisor what to train next as results come in, by the rules of
//! [`super::asha`]. A worker that frees up takes a decided promotion if there is one (highest
//! rung first), else the next new configuration, so workers idle only at the very end.
//!
//! Each decision is appended to `rungs.jsonl` before it is acted on; a resumed search replays
//! the stored values, so it decides the same however the earlier run ended. Once the search is
//! decided and trained, `rungs.jsonl` is rewritten in rung order, so the file is the same
//! whatever the order results arrived in (`--jobs`, the executor, interruptions).

use std::collections::{HashMap, HashSet};

use super::asha::Asha;
use super::configurations;
use super::scoring::Scoring;
use crate::executor::supervise::{Feed, Outcome};
use crate::measures::pareto::Score;
use crate::spec::search::EarlyStopping;
use crate::spec::{Objectives, TrialConfig};
use crate::store::rungs::{self, Arrival, RungDecision};
use crate::store::{Store, TrialStatus};

/// What a search is over, besides its configurations.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Steps of every trial.
    pub steps: usize,
    /// What a rung ranks by.
    pub scoring: Scoring,
    /// Configurations in all.
    pub total: usize,
}

impl Shape {
    /// The shape of a search over all of `trials`, ranked by `objectives`.
    pub fn of(trials: &[TrialConfig], objectives: &Objectives) -> Shape {
        Shape {
            steps: trials.first().map_or(0, |t| t.params().steps()),
            scoring: Scoring::new(objectives),
            total: configurations(trials).len(),
        }
    }
}

/// A trial waiting for a worker.
struct Queued {
    /// New configurations go after promotions.
    new: bool,
    /// The rung it trains to.
    rung: usize,
    /// Order of queueing.
    seq: usize,
    trial: TrialConfig,
}

/// One search: its configurations (plan order), the rules' state and the work queue.
pub struct AshaSearch<'a> {
    store: &'a Store,
    /// Each configuration's key and trials (its seeds).
    configs: Vec<(String, Vec<TrialConfig>)>,
    steps: usize,
    scoring: Scoring,
    asha: Asha,
    queue: Vec<Queued>,
    seq: usize,
    /// Trials queued or running, with the rung they train to.
    busy: HashMap<String, usize>,
    /// Lines for the progress display.
    notices: Vec<String>,
    /// Promotions already announced: bracket, rung, configuration.
    announced: HashSet<(usize, usize, String)>,
    eta: usize,
    /// Configurations the search will have in all (a TPE search proposes them as it goes).
    total: usize,
}

/// Decisions' identity in the log: bracket, rung, entrants considered, arrival or closing.
fn identity(d: &RungDecision) -> (usize, usize, usize, bool) {
    (d.bracket, d.rung, d.reached, d.arrived.is_some())
}

impl<'a> AshaSearch<'a> {
    /// The search over `trials` (plan order) with `es`, brackets numbered from
    /// `first_bracket`; replays the decisions stored in `store` (deciding again, with a
    /// warning, when they are of another search) and stores those the results allow since.
    /// `shape` says how many configurations will enter in all (those of `trials` now, the
    /// others through [`AshaSearch::admit`]), their steps and what ranks them.
    pub fn new(
        store: &'a Store,
        trials: &[TrialConfig],
        es: &EarlyStopping,
        first_bracket: usize,
        shape: Shape,
    ) -> anyhow::Result<AshaSearch<'a>> {
        let configs: Vec<(String, Vec<TrialConfig>)> = configurations(trials)
            .into_iter()
            .map(|(key, ts)| (key, ts.into_iter().cloned().collect()))
            .collect();
        let Shape {
            steps,
            scoring,
            total,
        } = shape;
        let total = total.max(configs.len());
        let stored = rungs::read(store.root())?;
        let mut search = AshaSearch {
            store,
            asha: Asha::new(es, total, steps, first_bracket),
            configs,
            steps,
            scoring,
            queue: Vec::new(),
            seq: 0,
            busy: HashMap::new(),
            notices: Vec::new(),
            announced: HashSet::new(),
            eta: es.eta,
            total,
        };
        for c in 0..search.configs.len() {
            search.asha.admit(c);
        }
        let fresh = search.asha.clone();
        let replayed = search.decide(&stored);
        let by_identity: HashMap<_, &RungDecision> =
            stored.iter().map(|d| (identity(d), d)).collect();
        let holds = (stored.is_empty() || stored.iter().any(|d| d.arrived.is_some()))
            && replayed
                .iter()
                .all(|d| by_identity.get(&identity(d)).is_none_or(|s| *s == d))
            && stored.iter().all(|s| {
                replayed
                    .iter()
                    .any(|d| identity(d) == identity(s) && d == s)
            });
        if holds {
            for d in replayed
                .iter()
                .filter(|d| !by_identity.contains_key(&identity(d)))
            {
                rungs::append(store.root(), d)?;
            }
        } else {
            eprintln!("warning: the stored rung decisions are of another search; deciding again");
            rungs::clear(store.root())?;
            search.asha = fresh;
            for d in search.decide(&[]) {
                rungs::append(store.root(), &d)?;
            }
        }
        search.notices.clear();
        search.enqueue();
        Ok(search)
    }

    /// Makes the decisions the results allow: a configuration's value at a rung comes from
    /// `stored` arrivals when there is one, else from its trial folders once every seed has its
    /// result there.
    fn decide(&mut self, stored: &[RungDecision]) -> Vec<RungDecision> {
        let arrivals: HashMap<(usize, usize, &str), &Arrival> = stored
            .iter()
            .filter_map(|d| {
                let a = d.arrived.as_ref()?;
                Some(((d.bracket, d.rung, a.config.as_str()), a))
            })
            .collect();
        let (store, configs, scoring) = (self.store, &self.configs, &self.scoring);
        let all_admitted = self.configs.len() == self.total;
        let decisions = self.asha.decide(
            all_admitted,
            |c, at| {
                let stored = arrivals.get(&(at.bracket, at.rung, configs[c].0.as_str()));
                if let Some(arrival) = stored {
                    return Some(scoring.from_arrival(arrival));
                }
                let trials: Vec<&TrialConfig> = configs[c].1.iter().collect();
                known(store, &trials, at.step).then(|| scoring.at(store, &trials, at.step))
            },
            |c| configs[c].0.clone(),
            (
                |config: String, score: &Score| scoring.arrival(config, score),
                |s| scoring.primary().mode.key(s),
            ),
        );
        for d in &decisions {
            for key in &d.promoted {
                if !self.announced.insert((d.bracket, d.rung, key.clone())) {
                    continue;
                }
                let why = match d.arrived {
                    Some(_) => format!("in the top 1/{} of the first {}", self.eta, d.reached),
                    None => format!("the best of {}", d.reached),
                };
                self.notices.push(format!(
                    "ASHA: {} goes on to step {} ({why} at step {})",
                    self.label_of(key),
                    self.asha.step(d.rung + 1),
                    d.step
                ));
            }
        }
        decisions
    }

    /// The next configuration (its trials, in the plan's order) enters the search.
    pub fn admit(&mut self, trials: &[TrialConfig]) -> anyhow::Result<()> {
        let key = trials
            .first()
            .map(TrialConfig::config_key)
            .unwrap_or_default();
        self.configs.push((key, trials.to_vec()));
        self.asha.admit(self.configs.len() - 1);
        for d in self.decide(&[]) {
            rungs::append(self.store.root(), &d)?;
        }
        self.enqueue();
        Ok(())
    }

    /// What a TPE search learns from the first `first` configurations, once known:
    /// [`Asha::evidence`].
    pub fn evidence(&self, first: usize) -> Option<Vec<(usize, Score)>> {
        self.asha.evidence(first)
    }

    fn label_of(&self, key: &str) -> String {
        self.configs
            .iter()
            .find(|c| c.0 == key)
            .and_then(|c| c.1.first())
            .map_or_else(|| key.to_string(), |t| t.config_label())
    }

    /// Queues the trials that have not reached the rung their configuration entered last.
    fn enqueue(&mut self) {
        for (c, place) in self.asha.places() {
            let budget = self.asha.step(place.rung);
            let new = place.rung == self.asha.start(place.bracket);
            for trial in &self.configs[c].1 {
                if self.busy.get(&trial.id).is_some_and(|&r| r >= place.rung)
                    || reached(self.store, trial, budget)
                {
                    continue;
                }
                self.busy.insert(trial.id.clone(), place.rung);
                let mut config = trial.clone();
                config.run.budget = (budget < self.steps).then_some(budget);
                self.queue.push(Queued {
                    new,
                    rung: place.rung,
                    seq: self.seq,
                    trial: config,
                });
                self.seq += 1;
            }
        }
        self.queue
            .sort_by_key(|q| (q.new, std::cmp::Reverse(q.rung), q.seq));
    }

    /// Once the supervisor has returned without a stop: every rung decided and trained; the
    /// log is rewritten in rung order.
    pub fn finish(&self) -> anyhow::Result<()> {
        if !self.asha.all_decided() || !self.queue.is_empty() || !self.busy.is_empty() {
            anyhow::bail!(
                "asynchronous successive halving stopped before its end ({} trials still to \
                 train); run the command again to go on",
                self.queue.len() + self.busy.len()
            );
        }
        let mut decisions = rungs::read(self.store.root())?;
        decisions.sort_by_key(|d| (d.bracket, d.rung, d.arrived.is_none(), d.reached));
        rungs::rewrite(self.store.root(), &decisions)
    }
}

/// Whether every one of `trials` has its result at `step` (a failure counts).
fn known(store: &Store, trials: &[&TrialConfig], step: usize) -> bool {
    trials.iter().all(|t| {
        matches!(store.trial(&t.id).result(),
            Ok(Some(r)) if r.status == TrialStatus::Failed || r.steps_done >= step)
    })
}

/// Whether `trial` needs no training to reach `budget`: it has a result there, or failed.
fn reached(store: &Store, trial: &TrialConfig, budget: usize) -> bool {
    known(store, &[trial], budget)
}

impl Feed for AshaSearch<'_> {
    fn ready(&mut self, room: usize) -> anyhow::Result<Vec<TrialConfig>> {
        let take = room.min(self.queue.len());
        let mut ready = Vec::with_capacity(take);
        for q in self.queue.drain(..take) {
            let dir = self.store.trial(&q.trial.id);
            dir.prepare(&q.trial)?;
            if matches!(dir.result(), Ok(Some(_)) | Err(_)) {
                dir.clear_result()?;
            }
            ready.push(q.trial);
        }
        Ok(ready)
    }

    fn waiting(&self) -> usize {
        self.queue.len()
    }

    fn ended(&mut self, trial: &TrialConfig, outcome: &Outcome) -> anyhow::Result<()> {
        self.busy.remove(&trial.id);
        if matches!(outcome, Outcome::Interrupted) {
            return Ok(());
        }
        // Entrants whose arrival is not stored yet were not promoted: their folders hold it.
        for d in self.decide(&[]) {
            rungs::append(self.store.root(), &d)?;
        }
        self.enqueue();
        Ok(())
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}
