//! The rules of asynchronous successive halving in plan order: what is promoted, and when a
//! rung closes, as a function of results taken in a fixed order, never of the order trials
//! finished in. Pure: [`super::asha_search`] feeds it results from the trial folders and acts
//! on its decisions.
//!
//! Each rung of a bracket has a sequence of entrants: the first rung's are the bracket's
//! configurations in plan order; a higher rung's are the configurations promoted into it, in
//! the order those promotions were decided. Once the first m entrants of a rung all have their
//! result there, those in the top ⌊m/η⌋ of these m that are not promoted yet are promoted
//! (appended to the next rung's entrants), best first. A decision so waits only for the
//! entrants before it at its rung, never for the rung to fill. A rung closes when it can take
//! no more entrants (the previous rung closed, or every configuration entered the first) and
//! all of them have their result: if it promoted none, its best goes on, and the others stop
//! there.

use crate::measures::pareto::{rank_order, Score};
use crate::spec::search::EarlyStopping;
use crate::store::rungs::{Arrival, RungDecision, Stopped};

/// One rung of a bracket.
#[derive(Debug, Default, Clone)]
struct Rung {
    /// Configurations (indices into the search's list), in the order they entered.
    entrants: Vec<usize>,
    /// The score of each of the first entrants that have their result (lower is better).
    scores: Vec<Score>,
    /// Whether each entrant was promoted (same order as `entrants`).
    promoted: Vec<bool>,
    /// For each entrant, how many entrants of the rung below had their result when it was
    /// promoted (0 at a bracket's first rung).
    after: Vec<usize>,
    /// No more entrants, and every decision is made.
    closed: bool,
}

/// One bracket: configurations enter at rung `start`.
#[derive(Debug, Clone)]
struct Bracket {
    start: usize,
    /// Configurations that will enter this bracket in all.
    size: usize,
    rungs: Vec<Rung>,
}

/// The state of an asynchronous successive halving search over brackets.
#[derive(Debug, Clone)]
pub struct Asha {
    /// The steps of the rungs; the last is the trials' full budget.
    steps: Vec<usize>,
    eta: usize,
    brackets: Vec<Bracket>,
    /// The bracket number of the first bracket in `rungs.jsonl`.
    first_bracket: usize,
}

/// A rung of a bracket, as a score is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    /// The bracket as `rungs.jsonl` numbers it.
    pub bracket: usize,
    /// The rung's index.
    pub rung: usize,
    /// The rung's step.
    pub step: usize,
}

/// Where a configuration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Its bracket (0-based, within this search).
    pub bracket: usize,
    /// The highest rung it entered.
    pub rung: usize,
}

impl Asha {
    /// A search over `configs` configurations of `steps` steps: its brackets (successive
    /// halving's one, or Hyperband's) numbered from `first_bracket` in the decisions, with
    /// configurations entering them in plan order.
    pub fn new(es: &EarlyStopping, configs: usize, steps: usize, first_bracket: usize) -> Asha {
        let rung_steps = es.rungs(steps);
        let brackets = es
            .brackets(configs, steps)
            .into_iter()
            .map(|(start, size)| Bracket {
                start,
                size,
                rungs: vec![Rung::default(); rung_steps.len()],
            })
            .collect();
        Asha {
            steps: rung_steps,
            eta: es.eta,
            brackets,
            first_bracket,
        }
    }

    /// The step of rung `k`.
    pub fn step(&self, k: usize) -> usize {
        self.steps[k]
    }

    /// The rung configurations enter bracket `b` at.
    pub fn start(&self, b: usize) -> usize {
        self.brackets[b].start
    }

    /// The configurations of each bracket, as consecutive ranges of plan order.
    fn bracket_of(&self, config: usize) -> usize {
        let mut end = 0;
        for (b, bracket) in self.brackets.iter().enumerate() {
            end += bracket.size;
            if config < end {
                return b;
            }
        }
        self.brackets.len() - 1
    }

    /// Configuration `config` (the next in plan order) enters its bracket's first rung.
    pub fn admit(&mut self, config: usize) {
        let b = self.bracket_of(config);
        let start = self.brackets[b].start;
        let rung = &mut self.brackets[b].rungs[start];
        rung.entrants.push(config);
        rung.promoted.push(false);
        rung.after.push(0);
    }

    /// What a search learns from its first `first` configurations (plan order), once it is
    /// known: for each, the step and score (lower is better, +∞ when it failed) at the rung it
    /// entered its bracket at, or at the next one when the results of the first `first`
    /// promoted it there. Which configurations those are depends only on those results, never
    /// on the order they arrived in; `None` while one of the scores is not known.
    pub fn evidence(&self, first: usize) -> Option<Vec<(usize, Score)>> {
        let mut evidence = Vec::with_capacity(first);
        for config in 0..first {
            let b = self.bracket_of(config);
            let bracket = &self.brackets[b];
            let start = &bracket.rungs[bracket.start];
            // The bracket's entrants among the first `first` configurations.
            let before: usize = self.brackets[..b].iter().map(|x| x.size).sum();
            let entered = first.saturating_sub(before).min(start.entrants.len());
            let score_in = |rung: &Rung| {
                let i = rung.entrants.iter().position(|&c| c == config)?;
                rung.scores.get(i).cloned()
            };
            let mut found = (self.steps[bracket.start], score_in(start)?);
            if let Some(next) = bracket.rungs.get(bracket.start + 1) {
                if let Some(i) = next.entrants.iter().position(|&c| c == config) {
                    if next.after[i] <= entered {
                        found = (self.steps[bracket.start + 1], next.scores.get(i).cloned()?);
                    }
                }
            }
            evidence.push(found);
        }
        Some(evidence)
    }

    /// Where each configuration entered so far stands: its bracket and highest rung.
    pub fn places(&self) -> Vec<(usize, Place)> {
        let mut places = Vec::new();
        for (b, bracket) in self.brackets.iter().enumerate() {
            for (k, rung) in bracket.rungs.iter().enumerate() {
                for (i, &c) in rung.entrants.iter().enumerate() {
                    let promoted = rung.promoted.get(i).copied().unwrap_or(false);
                    if !promoted || k + 1 == bracket.rungs.len() {
                        places.push((
                            c,
                            Place {
                                bracket: b,
                                rung: k,
                            },
                        ));
                    }
                }
            }
        }
        places.sort_by_key(|p| p.0);
        places
    }

    /// Whether every rung below the last has closed: what remains is training.
    pub fn all_decided(&self) -> bool {
        self.brackets.iter().all(|b| {
            let last = b.rungs.len() - 1;
            b.rungs[b.start..last].iter().all(|r| r.closed)
        })
    }

    /// Makes every decision the known results allow, in a fixed order, and returns them (to be
    /// stored before they are acted on). `score(config, spot)` is the configuration's score at
    /// that rung (lower is better; +∞ when it failed) once all its trials have their result
    /// there, else `None`; `key` names a configuration; `arrival` records a configuration's
    /// score (the metric's own values), `value` turns its first objective back into the
    /// metric's own value (for a stopped configuration's record); `all_admitted` says no more
    /// configurations will enter.
    pub fn decide(
        &mut self,
        all_admitted: bool,
        mut score: impl FnMut(usize, Spot) -> Option<Score>,
        key: impl Fn(usize) -> String,
        (arrival, value): (impl Fn(String, &Score) -> Arrival, impl Fn(f64) -> f64),
    ) -> Vec<RungDecision> {
        let mut decisions = Vec::new();
        loop {
            let before = decisions.len();
            for b in 0..self.brackets.len() {
                let last = self.brackets[b].rungs.len() - 1;
                for k in self.brackets[b].start..last {
                    self.advance(b, k, &mut score, &key, &arrival, &mut decisions);
                    let complete = if k == self.brackets[b].start {
                        all_admitted
                            || self.brackets[b].rungs[k].entrants.len() == self.brackets[b].size
                    } else {
                        self.brackets[b].rungs[k - 1].closed
                    };
                    let rung = &self.brackets[b].rungs[k];
                    if complete && !rung.closed && rung.scores.len() == rung.entrants.len() {
                        decisions.push(self.close(b, k, &key, &value));
                    }
                }
                // Nothing is decided at the full budget, but a TPE search learns from it
                // ([`Asha::evidence`]).
                self.record(b, last, &mut score);
            }
            if decisions.len() == before {
                return decisions;
            }
        }
    }

    /// Takes the results at the last rung `k` of bracket `b` (the full budget), in entrant
    /// order, while they are known; they decide nothing.
    fn record(&mut self, b: usize, k: usize, score: &mut impl FnMut(usize, Spot) -> Option<Score>) {
        let spot = Spot {
            bracket: self.first_bracket + b,
            rung: k,
            step: self.steps[k],
        };
        loop {
            let rung = &self.brackets[b].rungs[k];
            let Some(&config) = rung.entrants.get(rung.scores.len()) else {
                return;
            };
            let Some(s) = score(config, spot) else {
                return;
            };
            self.brackets[b].rungs[k].scores.push(s);
        }
    }

    /// Takes the results of rung `k`'s next entrants, in order, while they are known.
    fn advance(
        &mut self,
        b: usize,
        k: usize,
        score: &mut impl FnMut(usize, Spot) -> Option<Score>,
        key: &impl Fn(usize) -> String,
        arrival: &impl Fn(String, &Score) -> Arrival,
        decisions: &mut Vec<RungDecision>,
    ) {
        let step = self.steps[k];
        loop {
            let rung = &self.brackets[b].rungs[k];
            let m = rung.scores.len();
            let Some(&config) = rung.entrants.get(m) else {
                return;
            };
            let spot = Spot {
                bracket: self.first_bracket + b,
                rung: k,
                step,
            };
            let Some(s) = score(config, spot) else {
                return;
            };
            let arrived = arrival(key(config), &s);
            let rung = &mut self.brackets[b].rungs[k];
            rung.scores.push(s);
            let top = (m + 1) / self.eta;
            let promoted: Vec<usize> = ranked(rung)
                .into_iter()
                .take(top)
                .filter(|&i| !rung.promoted[i])
                .collect();
            let promoted = self.promote(b, k, &promoted);
            decisions.push(RungDecision {
                bracket: self.first_bracket + b,
                rung: k,
                step,
                reached: m + 1,
                promoted: promoted.iter().map(|&c| key(c)).collect(),
                stopped: Vec::new(),
                arrived: Some(arrived),
            });
        }
    }

    /// Promotes rung `k`'s entrants at positions `which` (in that order) into rung `k + 1`;
    /// returns their configurations.
    fn promote(&mut self, b: usize, k: usize, which: &[usize]) -> Vec<usize> {
        let configs: Vec<usize> = which
            .iter()
            .map(|&i| {
                self.brackets[b].rungs[k].promoted[i] = true;
                self.brackets[b].rungs[k].entrants[i]
            })
            .collect();
        let after = self.brackets[b].rungs[k].scores.len();
        let next = &mut self.brackets[b].rungs[k + 1];
        for &c in &configs {
            next.entrants.push(c);
            next.promoted.push(false);
            next.after.push(after);
        }
        configs
    }

    /// Closes rung `k`: its best goes on if it promoted none; the others stop there.
    fn close(
        &mut self,
        b: usize,
        k: usize,
        key: &impl Fn(usize) -> String,
        value: &impl Fn(f64) -> f64,
    ) -> RungDecision {
        let order = ranked(&self.brackets[b].rungs[k]);
        if let Some(&best) = order.first() {
            if !self.brackets[b].rungs[k].promoted.contains(&true) {
                self.promote(b, k, &[best]);
            }
        }
        let rung = &mut self.brackets[b].rungs[k];
        rung.closed = true;
        let promoted = order
            .iter()
            .filter(|&&i| rung.promoted[i])
            .map(|&i| key(rung.entrants[i]))
            .collect();
        let stopped = order
            .iter()
            .enumerate()
            .filter(|&(_, &i)| !rung.promoted[i])
            .map(|(r, &i)| Stopped {
                config: key(rung.entrants[i]),
                heldout: value(rung.scores[i].primary()),
                rank: r + 1,
            })
            .collect();
        RungDecision {
            bracket: self.first_bracket + b,
            rung: k,
            step: self.steps[k],
            reached: rung.entrants.len(),
            promoted,
            stopped,
            arrived: None,
        }
    }
}

/// The positions of a rung's entrants with a result, best first by [`rank_order`] (ties:
/// earlier in the plan).
fn ranked(rung: &Rung) -> Vec<usize> {
    let mut by_plan: Vec<usize> = (0..rung.scores.len()).collect();
    by_plan.sort_by_key(|&i| rung.entrants[i]);
    let scores: Vec<Score> = by_plan.iter().map(|&i| rung.scores[i].clone()).collect();
    rank_order(&scores)
        .into_iter()
        .map(|k| by_plan[k])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::search::StoppingMethod;

    fn es(method: StoppingMethod) -> EarlyStopping {
        EarlyStopping {
            method,
            min_steps: 100,
            eta: 3,
        }
    }

    /// Runs a search to its end, feeding results in the order `finish` gives (among the
    /// configurations whose next rung is known to be trained), and returns its decisions in
    /// canonical order and the configurations that reached each rung.
    fn play(
        method: StoppingMethod,
        scores: &[f64],
        pick: impl FnMut(&[(usize, usize)]) -> usize,
    ) -> Vec<RungDecision> {
        let at = |c: usize, step: usize| Score::single(scores[c] + 1000.0 / step as f64);
        play_with(method, scores.len(), at, pick)
    }

    /// [`play`] with `n` configurations whose score at a step is `score(config, step)`.
    fn play_with(
        method: StoppingMethod,
        n: usize,
        score: impl Fn(usize, usize) -> Score,
        mut pick: impl FnMut(&[(usize, usize)]) -> usize,
    ) -> Vec<RungDecision> {
        let mut asha = Asha::new(&es(method), n, 900, 0);
        for c in 0..n {
            asha.admit(c);
        }
        // (config, step) pairs trained so far.
        let mut trained: Vec<(usize, usize)> = Vec::new();
        let mut decisions = Vec::new();
        loop {
            let known = trained.clone();
            decisions.extend(asha.decide(
                true,
                |c, at| known.contains(&(c, at.step)).then(|| score(c, at.step)),
                |c| format!("c{c}"),
                (record, |s| s),
            ));
            // What could train now: each configuration up to its highest rung.
            let todo: Vec<(usize, usize)> = asha
                .places()
                .into_iter()
                .map(|(c, p)| (c, asha.step(p.rung)))
                .filter(|x| !trained.contains(x))
                .collect();
            if todo.is_empty() {
                break;
            }
            trained.push(todo[pick(&todo) % todo.len()]);
        }
        assert!(asha.all_decided());
        decisions.sort_by_key(|d| (d.bracket, d.rung, d.arrived.is_none(), d.reached));
        decisions
    }

    #[test]
    fn on_two_objectives_the_front_goes_on_whatever_the_order_results_arrive_in() {
        // Configuration c sits at (c, 16 − c) on a front when c is even, and 0.5 behind its
        // even neighbour on both objectives when odd; c = 3 breaks a constraint.
        let score = |c: usize, step: usize| {
            let (base, off) = (c - c % 2, if c % 2 == 1 { 0.5 } else { 0.0 });
            let early = 100.0 / step as f64;
            Score {
                values: vec![base as f64 + off + early, (16 - base) as f64 + off + early],
                violation: if c == 3 { 0.2 } else { 0.0 },
            }
        };
        for method in [StoppingMethod::Asha, StoppingMethod::AsyncHyperband] {
            let in_order = play_with(method, 18, score, |_| 0);
            let last_first = play_with(method, 18, score, |todo| todo.len() - 1);
            assert_eq!(in_order, last_first, "{method:?}");
            if method == StoppingMethod::Asha {
                // The first rung's closing decision, in rank order: the front's two ends (the
                // most isolated) first; every configuration it stops is off the front, and the
                // infeasible one ranks last.
                let close = in_order
                    .iter()
                    .find(|d| d.rung == 0 && d.arrived.is_none())
                    .unwrap();
                assert_eq!(close.reached, 18);
                assert_eq!(&close.promoted[..2], ["c0", "c16"], "{close:?}");
                let number = |c: &str| c[1..].parse::<usize>().unwrap();
                assert!(
                    close.stopped.iter().all(|s| number(&s.config) % 2 == 1),
                    "{close:?}"
                );
                assert_eq!(close.stopped.last().unwrap().config, "c3", "{close:?}");
            }
        }
    }

    #[test]
    fn decisions_do_not_depend_on_the_order_results_arrive_in() {
        let scores: Vec<f64> = (0..20).map(|i| ((i * 7919) % 23) as f64).collect();
        for method in [StoppingMethod::Asha, StoppingMethod::AsyncHyperband] {
            let in_order = play(method, &scores, |_| 0);
            let last_first = play(method, &scores, |todo| todo.len() - 1);
            let mut x = 12345u64;
            let shuffled = play(method, &scores, |_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) as usize
            });
            assert_eq!(in_order, last_first, "{method:?}");
            assert_eq!(in_order, shuffled, "{method:?}");
        }
    }

    #[test]
    fn a_promotion_waits_only_for_the_entrants_before_it() {
        // Nine configurations, η 3: the first three decide one promotion, the best of them.
        let scores = [5.0, 3.0, 4.0, 9.0, 1.0, 8.0, 7.0, 6.0, 2.0];
        let mut asha = Asha::new(&es(StoppingMethod::Asha), 9, 900, 0);
        for c in 0..9 {
            asha.admit(c);
        }
        let known = [0, 1, 2, 4];
        let d = asha.decide(
            true,
            |c, at| (at.step == 100 && known.contains(&c)).then(|| Score::single(scores[c])),
            |c| format!("c{c}"),
            (record, |s| s),
        );
        // Entrant 4 (c4) has its result, but c3 before it does not: only m = 3 is decided.
        assert_eq!(d.len(), 3);
        assert_eq!(d[2].reached, 3);
        assert_eq!(d[2].promoted, ["c1"]);
        assert_eq!(d[0].promoted, Vec::<String>::new());
        let places = asha.places();
        assert_eq!(places[1].1.rung, 1, "c1 goes on at once");
        assert_eq!(places[4].1.rung, 0, "c4 waits for c3");
    }

    #[test]
    fn tpe_learns_the_next_rung_of_those_the_first_results_promoted() {
        let scores = [5.0, 3.0, 4.0, 9.0, 8.0, 7.0, 6.0, 2.0, 1.0];
        let mut asha = Asha::new(&es(StoppingMethod::Asha), 9, 900, 0);
        for c in 0..9 {
            asha.admit(c);
        }
        let decide = |asha: &mut Asha, known: &[(usize, usize)]| decide_with(asha, &scores, known);
        let at = |e: Vec<(usize, Score)>| e.into_iter().map(|(step, _)| step).collect::<Vec<_>>();
        let mut known: Vec<(usize, usize)> = (0..6).map(|c| (c, 100)).collect();
        decide(&mut asha, &known);
        // The first three promoted c1, the first six c2 as well: TPE waits for their step 300.
        assert_eq!(asha.evidence(6), None);
        assert_eq!(
            asha.evidence(2),
            Some(vec![(100, Score::single(5.1)), (100, Score::single(3.1))])
        );
        known.extend([(1, 300), (2, 300)]);
        decide(&mut asha, &known);
        assert_eq!(
            at(asha.evidence(6).unwrap()),
            [100, 300, 300, 100, 100, 100]
        );
        assert_eq!(asha.evidence(6).unwrap()[2], (300, Score::single(4.3)));
        // c2 went on only once six had their result: the first five learn its step 100.
        assert_eq!(at(asha.evidence(5).unwrap()), [100, 300, 100, 100, 100]);
        // Later results promote c7 and c8; what the first six teach stays as it was.
        known.extend((6..9).map(|c| (c, 100)));
        decide(&mut asha, &known);
        assert_eq!(
            at(asha.evidence(6).unwrap()),
            [100, 300, 300, 100, 100, 100]
        );
        assert_eq!(
            asha.evidence(9),
            None,
            "c7's and c8's step 300 are not known"
        );
    }

    /// Decides with the results `known` (configuration, step) of `scores`.
    /// A single objective's arrival, as the search records it.
    fn record(config: String, s: &Score) -> Arrival {
        Arrival {
            config,
            value: s.primary().is_finite().then(|| s.primary()),
            others: Vec::new(),
            violation: 0.0,
        }
    }

    fn decide_with(asha: &mut Asha, scores: &[f64], known: &[(usize, usize)]) {
        asha.decide(
            false,
            |c, at| {
                known
                    .contains(&(c, at.step))
                    .then(|| Score::single(scores[c] + at.step as f64 / 1000.0))
            },
            |c| format!("c{c}"),
            (record, |s| s),
        );
    }

    #[test]
    fn a_failed_configuration_of_a_maximised_metric_is_recorded_at_minus_infinity() {
        // Scores are oriented (a maximised metric negated); a failed configuration scores +∞,
        // which is −∞ in the metric's own terms, as synchronous halving records it.
        let mut asha = Asha::new(&es(StoppingMethod::Asha), 3, 900, 0);
        for c in 0..3 {
            asha.admit(c);
        }
        let own = [0.9, 0.8, f64::NAN];
        let decisions = asha.decide(
            true,
            |c, at| {
                (at.step == 100).then(|| {
                    Score::single(if own[c].is_nan() {
                        f64::INFINITY
                    } else {
                        -own[c]
                    })
                })
            },
            |c| format!("c{c}"),
            (record, |s: f64| -s),
        );
        let close = decisions
            .iter()
            .find(|d| d.rung == 0 && d.arrived.is_none())
            .unwrap();
        let failed = close.stopped.iter().find(|s| s.config == "c2").unwrap();
        assert_eq!(failed.heldout, f64::NEG_INFINITY, "{close:?}");
        assert_eq!(close.promoted, ["c0"]);
    }

    #[test]
    fn tpe_learns_the_full_budget_when_the_next_rung_is_the_last() {
        // Rungs 300 and 900: the rung a promotion leads to decides nothing, but its results
        // are what TPE learns of the promoted configurations.
        let es = EarlyStopping {
            method: StoppingMethod::Asha,
            min_steps: 300,
            eta: 3,
        };
        let scores = [5.0, 3.0, 4.0];
        let mut asha = Asha::new(&es, 6, 900, 0);
        for c in 0..3 {
            asha.admit(c);
        }
        decide_with(&mut asha, &scores, &[(0, 300), (1, 300), (2, 300)]);
        assert_eq!(
            asha.evidence(3),
            None,
            "c1 was promoted: its step 900 is not known"
        );
        decide_with(
            &mut asha,
            &scores,
            &[(0, 300), (1, 300), (2, 300), (1, 900)],
        );
        assert_eq!(
            asha.evidence(3),
            Some(vec![
                (300, Score::single(5.3)),
                (900, Score::single(3.9)),
                (300, Score::single(4.3))
            ])
        );
    }

    #[test]
    fn a_hyperband_bracket_that_starts_at_the_full_budget_teaches_its_results() {
        // Rungs 100, 300, 900: the last bracket trains its configurations to the end at once.
        let mut asha = Asha::new(&es(StoppingMethod::AsyncHyperband), 20, 900, 0);
        for c in 0..20 {
            asha.admit(c);
        }
        let last = (0..20)
            .find(|&c| asha.brackets[asha.bracket_of(c)].start == 2)
            .expect("a bracket starting at step 900");
        let scores = vec![1.0; 20];
        let known: Vec<(usize, usize)> = (0..20)
            .flat_map(|c| [(c, 100), (c, 300), (c, 900)])
            .collect();
        decide_with(&mut asha, &scores, &known);
        let evidence = asha.evidence(last + 1).expect("every score is known");
        assert_eq!(evidence[last], (900, Score::single(1.9)));
    }

    #[test]
    fn rungs_close_with_the_others_stopped_and_at_least_one_promoted() {
        let scores = [5.0, 3.0];
        let d = play(StoppingMethod::Asha, &scores, |_| 0);
        // Two configurations, η 3: none is in the top ⌊2/3⌋, so the closing promotes the best.
        let closing: Vec<&RungDecision> = d.iter().filter(|d| d.arrived.is_none()).collect();
        assert_eq!(
            closing.len(),
            2,
            "rungs at 100 and 300 close; 900 is the end"
        );
        assert_eq!(closing[0].promoted, ["c1"]);
        assert_eq!(closing[0].stopped.len(), 1);
        assert_eq!(closing[0].stopped[0].config, "c0");
        assert_eq!(closing[0].stopped[0].rank, 2);
        assert_eq!(closing[1].promoted, ["c1"], "alone at its rung, it goes on");
    }
}
