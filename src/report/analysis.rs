//! The measures of the analysis, computed from stored curves: convergence speed, volatility,
//! overfitting, runs that got worse (degraded), runs that blew up (diverged), and mean ± std
//! aggregation over seeds and axes. Pure functions, so they can be tested on synthetic curves
//! with known answers.

pub use crate::measures::{final_train_diverged, DIVERGED_FACTOR, FINAL_TRAIN_WINDOW};
use crate::store::MetricRow;

/// "Converged" means the smoothed training perplexity is within this fraction of the lowest
/// level the smoothed curve reached.
pub const CONVERGENCE_MARGIN: f64 = 0.10;
/// Window (steps) of the trailing mean that smooths training perplexity for convergence,
/// instability and divergence.
pub const SMOOTHING_WINDOW: usize = 25;
/// Volatility is measured over this last fraction of training.
pub const VOLATILITY_TAIL: f64 = 0.5;
/// The last [`OVERFIT_TAIL`] held-out evaluations averaging this much above the best earlier
/// one, while training perplexity kept falling, count as overfitting.
pub const OVERFIT_MARGIN: f64 = 0.03;
/// Held-out evaluations at the end of training compared with the best one before them; more
/// than one, so that a single noisy evaluation is not called overfitting.
pub const OVERFIT_TAIL: usize = 3;
/// A run is degraded when its smoothed training perplexity ends more than this fraction above
/// its minimum and its held-out perplexity ends more than this fraction above its best.
pub const DEGRADED_MARGIN: f64 = 0.15;
/// A final held-out perplexity this fraction above the best one is worth pointing out: the
/// best weights (which `sweep sample` uses) are much better than the final ones.
pub const BEST_WEIGHTS_MARGIN: f64 = 0.10;
/// Relative measures at most this far above the best row get the best row's label.
pub const LABEL_NEAR: f64 = 1.25;
/// Relative measures more than this far above the best row get the worst label.
pub const LABEL_FAR: f64 = 2.0;
/// The trade-off front's margin: a gap on one objective counts when it exceeds this many
/// pooled seed-to-seed standard deviations of that objective (the verdicts use
/// [`super::compare`] instead).
pub const NOISE_SIGMAS: f64 = 2.0;

/// How a run blew up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Divergence {
    /// The step from which training perplexity stayed beyond the limit (or first became
    /// infinite).
    pub step: usize,
    /// The final training perplexity (mean of the last [`FINAL_TRAIN_WINDOW`] steps; may be
    /// infinite).
    pub final_train_ppl: f64,
    /// The limit it passed: [`DIVERGED_FACTOR`] × the knows-nothing perplexity.
    pub limit: f64,
}

/// How a run got worse after its best point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Worsening {
    /// Step of the best held-out evaluation.
    pub best_step: usize,
    /// The best held-out perplexity.
    pub best_heldout: f64,
    /// The final held-out perplexity.
    pub final_heldout: f64,
    /// Lowest smoothed training perplexity.
    pub train_min: f64,
    /// Final smoothed training perplexity.
    pub train_final: f64,
}

impl Worsening {
    /// How much worse the final held-out perplexity is than the best, as a fraction.
    pub fn heldout_rise(&self) -> f64 {
        self.final_heldout / self.best_heldout - 1.0
    }

    /// How far the smoothed training perplexity ended above its minimum, as a fraction.
    pub fn train_rise(&self) -> f64 {
        self.train_final / self.train_min - 1.0
    }
}

/// What one finished trial's curves say. The objective's values are there for every kind of
/// trial; the training-curve measures only for the built-in model (a program's are `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialMeasures {
    /// Mean training perplexity of the last [`FINAL_TRAIN_WINDOW`] steps (infinite when one of
    /// them is); built-in model only.
    pub final_train_ppl: Option<f64>,
    /// The objective after the last step (held-out perplexity for the built-in model).
    pub final_value: Option<f64>,
    /// The objective's best value and the step it was measured at.
    pub best: Option<(usize, f64)>,
    /// First step at which the smoothed training perplexity is within [`CONVERGENCE_MARGIN`]
    /// of the lowest level the smoothed curve reached; `None` for a diverged run.
    pub convergence_step: Option<usize>,
    /// Standard deviation of the step-to-step change of ln(training perplexity) over the last
    /// [`VOLATILITY_TAIL`] of training (0.05 ≈ typical ±5% jumps between steps); `None` for a
    /// diverged run.
    pub volatility: Option<f64>,
    /// The last [`OVERFIT_TAIL`] held-out evaluations average more than [`OVERFIT_MARGIN`]
    /// above the best evaluation before them, while the training perplexity went on falling
    /// (never together with `degraded` or `diverged`).
    pub overfitting: bool,
    /// Training and held-out perplexity both ended more than [`DEGRADED_MARGIN`] above their
    /// best (never together with `diverged`).
    pub degraded: Option<Worsening>,
    /// Training perplexity became infinite or ended beyond [`DIVERGED_FACTOR`] × the
    /// knows-nothing perplexity.
    pub diverged: Option<Divergence>,
}

/// A program's trial: its objective's last and best values, nothing else (its curves have no
/// training perplexity to measure).
pub fn objective_only(final_value: Option<f64>, best: Option<(usize, f64)>) -> TrialMeasures {
    TrialMeasures {
        final_train_ppl: None,
        final_value,
        best,
        convergence_step: None,
        volatility: None,
        overfitting: false,
        degraded: None,
        diverged: None,
    }
}

/// Measures the built-in model's curves of a trial; `None` without rows. `knows_nothing` is the perplexity of a
/// model that knows nothing (the vocabulary size); without it only an infinite training
/// perplexity counts as divergence.
pub fn measure(rows: &[MetricRow], knows_nothing: Option<f64>) -> Option<TrialMeasures> {
    let n = rows.len();
    if n == 0 {
        return None;
    }
    let tail = &rows[n.saturating_sub(FINAL_TRAIN_WINDOW)..];
    let final_train_ppl = tail.iter().map(|r| r.train_ppl).sum::<f64>() / tail.len() as f64;
    let smoothed = trailing_means(rows, SMOOTHING_WINDOW);
    let heldout: Vec<(usize, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.heldout_ppl.map(|h| (i, h)))
        .collect();
    let best_heldout = heldout
        .iter()
        .filter(|e| !e.1.is_nan())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|&(i, h)| (rows[i].step, h));
    let final_heldout_ppl = rows[n - 1].heldout_ppl;

    let diverged = divergence(rows, &smoothed, final_train_ppl, knows_nothing);
    let smoothed_min = smoothed
        .iter()
        .copied()
        .filter(|s| s.is_finite())
        .fold(f64::INFINITY, f64::min);
    let convergence_step = diverged.is_none().then(|| {
        let level = smoothed_min * (1.0 + CONVERGENCE_MARGIN);
        let i = smoothed.iter().position(|&s| s <= level).unwrap_or(n - 1);
        rows[i].step
    });
    let volatility = diverged.is_none().then(|| {
        let from = ((n as f64) * (1.0 - VOLATILITY_TAIL)).floor() as usize;
        let diffs: Vec<f64> = rows[from..]
            .windows(2)
            .map(|w| w[1].train_ppl.ln() - w[0].train_ppl.ln())
            .collect();
        Stat::of(&diffs).and_then(|s| s.std).unwrap_or(0.0)
    });
    let degraded = match (diverged, best_heldout, final_heldout_ppl) {
        (None, Some((best_step, best)), Some(last)) => {
            let train_final = smoothed[n - 1];
            let worse = |end: f64, best: f64| end > best * (1.0 + DEGRADED_MARGIN);
            (worse(train_final, smoothed_min) && worse(last, best)).then_some(Worsening {
                best_step,
                best_heldout: best,
                final_heldout: last,
                train_min: smoothed_min,
                train_final,
            })
        }
        _ => None,
    };
    let overfitting = diverged.is_none() && degraded.is_none() && heldout.len() > OVERFIT_TAIL && {
        let (before, tail) = heldout.split_at(heldout.len() - OVERFIT_TAIL);
        let tail_mean = tail.iter().map(|e| e.1).sum::<f64>() / tail.len() as f64;
        let &(best_at, best) = before
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("non-empty");
        let train_at_best = {
            let window = &rows[(best_at + 1).saturating_sub(FINAL_TRAIN_WINDOW)..=best_at];
            window.iter().map(|r| r.train_ppl).sum::<f64>() / window.len() as f64
        };
        tail_mean > best * (1.0 + OVERFIT_MARGIN) && final_train_ppl < train_at_best
    };

    Some(TrialMeasures {
        final_train_ppl: Some(final_train_ppl),
        final_value: final_heldout_ppl,
        best: best_heldout,
        convergence_step,
        volatility,
        overfitting,
        degraded,
        diverged,
    })
}

/// The trailing mean of training perplexity over `window` steps at every step (shorter at the
/// start).
fn trailing_means(rows: &[MetricRow], window: usize) -> Vec<f64> {
    let mut sum = 0.0;
    let mut inf = 0usize;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            // Infinite values are counted apart, so that one does not poison the sum forever.
            let mut add = |x: f64, sign: f64| {
                if x.is_finite() {
                    sum += sign * x;
                } else {
                    inf = if sign > 0.0 { inf + 1 } else { inf - 1 };
                }
            };
            add(r.train_ppl, 1.0);
            if i >= window {
                add(rows[i - window].train_ppl, -1.0);
            }
            if inf > 0 {
                f64::INFINITY
            } else {
                sum / (i + 1).min(window) as f64
            }
        })
        .collect()
}

/// Whether, and from which step, a run has diverged: its training perplexity became infinite,
/// or its final training perplexity is beyond [`DIVERGED_FACTOR`] × `knows_nothing` (the step
/// is then the first of the last stretch where the smoothed curve stayed beyond it).
fn divergence(
    rows: &[MetricRow],
    smoothed: &[f64],
    final_train_ppl: f64,
    knows_nothing: Option<f64>,
) -> Option<Divergence> {
    let limit = knows_nothing.map_or(f64::INFINITY, |v| DIVERGED_FACTOR * v);
    if let Some(r) = rows.iter().find(|r| !r.train_ppl.is_finite()) {
        return Some(Divergence {
            step: r.step,
            final_train_ppl,
            limit,
        });
    }
    if final_train_ppl <= limit {
        return None;
    }
    let stretch = smoothed
        .iter()
        .rposition(|&s| s <= limit)
        .map_or(0, |i| i + 1);
    // The smoothed curve may have dipped back under the limit at the very end; the run still
    // ended far beyond it on average.
    let i = stretch.min(rows.len() - 1);
    Some(Divergence {
        step: rows[i].step,
        final_train_ppl,
        limit,
    })
}

/// Mean and sample standard deviation of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for a single value.
    pub std: Option<f64>,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// The statistics of the finite values in `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stat> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = (n > 1)
            .then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        Some(Stat { mean, std, n })
    }
}

impl Stat {
    /// The statistics of `values` without NaNs, infinities kept (a mean of `inf` says a run
    /// blew up); the spread is `None` when the mean is not finite.
    pub fn of_any(values: &[f64]) -> Option<Stat> {
        if values.iter().any(|x| x.is_infinite()) {
            let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            return Some(Stat {
                mean,
                std: None,
                n: v.len(),
            });
        }
        Stat::of(values)
    }
}

/// The share of the variance of `values` that their groups explain (one-way ANOVA: the
/// between-group sum of squares over the total); `None` with fewer than 3 values or no
/// variance.
pub fn explained_variance(values: &[f64], groups: &[usize]) -> Option<f64> {
    let n = values.len();
    if n < 3 || groups.len() != n {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let total: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    if !total.is_finite() || total <= 0.0 {
        return None;
    }
    let mut sums: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for (&v, &g) in values.iter().zip(groups) {
        let e = sums.entry(g).or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    let between: f64 = sums
        .values()
        .map(|&(sum, count)| count as f64 * (sum / count as f64 - mean).powi(2))
        .sum();
    Some(between / total)
}

/// Seed-to-seed noise: the standard deviation of final held-out perplexity between seeds of one
/// configuration, pooled (root mean variance) over the configurations with two or more seeds.
pub fn pooled_seed_std(groups: &[Vec<f64>]) -> Option<f64> {
    let variances: Vec<f64> = groups
        .iter()
        .filter_map(|g| Stat::of(g).and_then(|s| s.std))
        .map(|s| s * s)
        .collect();
    (!variances.is_empty()).then(|| (variances.iter().sum::<f64>() / variances.len() as f64).sqrt())
}

/// A relative grade: how a row compares with the best row of its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    /// Within [`LABEL_NEAR`] of the best.
    Best,
    /// Between [`LABEL_NEAR`] and [`LABEL_FAR`] of the best.
    Middle,
    /// Beyond [`LABEL_FAR`] of the best.
    Worst,
}

/// Grades each of `values` (lower is better) by its ratio to the smallest one.
pub fn grade(values: &[f64]) -> Vec<Grade> {
    let min = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    values
        .iter()
        .map(|&v| {
            let ratio = if min.is_finite() { v / min } else { 1.0 };
            if ratio <= LABEL_NEAR {
                Grade::Best
            } else if ratio <= LABEL_FAR {
                Grade::Middle
            } else {
                Grade::Worst
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic curve: perplexity decays from 40 towards `floor` with time constant `tau`
    /// steps; `noise` is the amplitude of a deterministic ±jitter; held-out every 100 steps
    /// follows `heldout(step)`.
    fn curve(
        steps: usize,
        floor: f64,
        tau: f64,
        noise: f64,
        heldout: impl Fn(usize) -> f64,
    ) -> Vec<MetricRow> {
        let mut state = 12345u64;
        (1..=steps)
            .map(|step| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let jitter = (state % 2001) as f64 / 1000.0 - 1.0;
                let ppl = (floor + (40.0 - floor) * (-(step as f64) / tau).exp())
                    * (1.0 + noise * jitter);
                row(step, ppl, (step % 100 == 0).then(|| heldout(step)))
            })
            .collect()
    }

    fn row(step: usize, train_ppl: f64, heldout_ppl: Option<f64>) -> MetricRow {
        MetricRow {
            step,
            train_loss: train_ppl.ln(),
            train_ppl,
            heldout_ppl,
            elapsed_s: step as f64 * 0.01,
        }
    }

    /// A curve that falls to `low` by step 500, then climbs back to `high` linearly (training
    /// and held-out alike), as a recipe that falls apart does.
    fn degrading(steps: usize, low: f64, high: f64) -> Vec<MetricRow> {
        let ppl = |s: usize| {
            let s = s as f64;
            if s <= 500.0 {
                low + (40.0 - low) * (-s / 60.0).exp()
            } else {
                low + (high - low) * (s - 500.0) / (steps as f64 - 500.0)
            }
        };
        (1..=steps)
            .map(|s| row(s, ppl(s), (s % 100 == 0).then(|| ppl(s) * 1.1)))
            .collect()
    }

    const V: Option<f64> = Some(44.0);

    #[test]
    fn a_fast_curve_converges_early_and_a_slow_one_late() {
        let fast = measure(&curve(1000, 6.0, 30.0, 0.0, |_| 7.0), V).unwrap();
        let slow = measure(&curve(1000, 6.0, 250.0, 0.0, |_| 7.0), V).unwrap();
        // 40·e^(−t/τ) + 6 ≤ 1.1·6 first at t ≈ τ·ln(34/0.6) ≈ 4.04τ (plus the smoothing lag).
        let fast_step = fast.convergence_step.unwrap();
        assert!((115..=150).contains(&fast_step), "{fast:?}");
        // The slow one reaches about 6.6 at its end, so it is "converged" once within 10% of
        // that: t ≈ 780.
        let slow_step = slow.convergence_step.unwrap();
        assert!((750..=850).contains(&slow_step), "{slow:?}");
        assert_eq!(
            grade(&[fast_step as f64, slow_step as f64]),
            [Grade::Best, Grade::Worst]
        );
        for m in [&fast, &slow] {
            assert!(!m.overfitting && m.degraded.is_none() && m.diverged.is_none());
        }
    }

    #[test]
    fn convergence_is_measured_against_the_best_level_not_a_worse_end() {
        // Falls to 5 by step ~300, then climbs to 9 at the end: against the final value it
        // would be "converged" at once (the curve is within 10% of 9 by step ~90).
        let m = measure(&degrading(2000, 5.0, 9.0), V).unwrap();
        let step = m.convergence_step.unwrap();
        // 35·e^(−t/60) ≤ 0.5 at t ≈ 60·ln(70) ≈ 255, plus the smoothing lag.
        assert!((250..=290).contains(&step), "{m:?}");
    }

    #[test]
    fn a_noisy_curve_is_more_volatile_than_a_smooth_one() {
        let smooth = measure(&curve(1000, 6.0, 50.0, 0.01, |_| 7.0), V).unwrap();
        let noisy = measure(&curve(1000, 6.0, 50.0, 0.10, |_| 7.0), V).unwrap();
        let (smooth_v, noisy_v) = (smooth.volatility.unwrap(), noisy.volatility.unwrap());
        // Uniform jitter of ±a has std a/√3; a difference of two has std a·√(2/3).
        assert!(
            (noisy_v - 0.1 * (2.0f64 / 3.0).sqrt()).abs() < 0.01,
            "{noisy:?}"
        );
        assert!(noisy_v > 8.0 * smooth_v);
        assert_eq!(grade(&[smooth_v, noisy_v]), [Grade::Best, Grade::Worst]);
        assert!(
            noisy.degraded.is_none() && noisy.diverged.is_none(),
            "{noisy:?}"
        );
    }

    #[test]
    fn rising_heldout_while_train_falls_is_overfitting() {
        let over = measure(
            &curve(1000, 3.0, 100.0, 0.0, |s| {
                if s <= 400 {
                    8.0 - s as f64 / 200.0
                } else {
                    6.0 + (s - 400) as f64 / 100.0
                }
            }),
            V,
        )
        .unwrap();
        assert!(over.overfitting, "{over:?}");
        assert!(over.degraded.is_none(), "training kept improving: {over:?}");
        assert_eq!(over.best, Some((400, 6.0)));
        let fine = measure(&curve(1000, 3.0, 100.0, 0.0, |s| 8.0 - s as f64 / 500.0), V).unwrap();
        assert!(!fine.overfitting, "{fine:?}");
        assert_eq!(fine.final_value, Some(6.0));
    }

    #[test]
    fn a_run_that_falls_apart_is_degraded_not_overfitting() {
        let m = measure(&degrading(2000, 5.0, 9.0), V).unwrap();
        let w = m
            .degraded
            .expect("train and held-out both ended far above their best");
        assert_eq!(w.best_step, 500);
        assert!((w.best_heldout - 5.5).abs() < 0.05, "{w:?}");
        assert!((w.final_heldout - 9.9).abs() < 1e-9, "{w:?}");
        assert!((w.heldout_rise() - 0.8).abs() < 0.01, "{w:?}");
        assert!(w.train_rise() > 0.7, "{w:?}");
        assert!(!m.overfitting && m.diverged.is_none(), "{m:?}");
        // A rise of 10% is within the margin: not degraded.
        let mild = measure(&degrading(2000, 5.0, 5.5), V).unwrap();
        assert!(mild.degraded.is_none(), "{mild:?}");
    }

    #[test]
    fn infinite_perplexity_is_divergence_at_the_step_it_happened() {
        let mut rows = curve(300, 6.0, 30.0, 0.0, |_| 7.0);
        for r in &mut rows[120..] {
            r.train_ppl = f64::INFINITY;
            r.heldout_ppl = r.heldout_ppl.map(|_| f64::INFINITY);
        }
        let m = measure(&rows, None).unwrap();
        let d = m.diverged.expect("infinite training perplexity");
        assert_eq!(d.step, 121);
        assert_eq!(d.final_train_ppl, f64::INFINITY);
        assert_eq!((m.convergence_step, m.volatility), (None, None));
        assert!(m.degraded.is_none() && !m.overfitting);
    }

    #[test]
    fn a_run_that_stays_far_above_a_uniform_guess_has_diverged() {
        // Learns for 100 steps, then blows up to 4.7e85 and stays there.
        let rows: Vec<MetricRow> = (1..=400)
            .map(|s| {
                let ppl = if s <= 100 { 30.0 } else { 4.7e85 };
                row(s, ppl, (s % 100 == 0).then_some(ppl))
            })
            .collect();
        let m = measure(&rows, V).unwrap();
        let d = m.diverged.expect("far beyond 2 × 44");
        assert_eq!(
            d.step, 101,
            "one step at 4.7e85 lifts the smoothed curve past 88: {d:?}"
        );
        assert_eq!(d.limit, 88.0);
        assert_eq!(m.convergence_step, None);
        // Without the vocabulary size only infinity counts.
        assert!(measure(&rows, None).unwrap().diverged.is_none());
        // Stuck at a uniform guess (44) is bad, but not diverged.
        let stuck: Vec<MetricRow> = (1..=200).map(|s| row(s, 45.0, None)).collect();
        assert!(measure(&stuck, V).unwrap().diverged.is_none());
        // A spike that recovers is not divergence either.
        let spike: Vec<MetricRow> = (1..=200)
            .map(|s| row(s, if (50..60).contains(&s) { 1e6 } else { 10.0 }, None))
            .collect();
        assert!(measure(&spike, V).unwrap().diverged.is_none());
    }

    #[test]
    fn final_train_perplexity_is_the_mean_of_the_last_50_steps() {
        let rows = curve(200, 5.0, 10.0, 0.0, |_| 6.0);
        let m = measure(&rows, V).unwrap();
        let want = rows[150..].iter().map(|r| r.train_ppl).sum::<f64>() / 50.0;
        assert!((m.final_train_ppl.unwrap() - want).abs() < 1e-12);
    }

    #[test]
    fn seed_noise_pools_the_variances_of_configurations_with_two_seeds() {
        let noise = pooled_seed_std(&[vec![6.0, 6.1], vec![6.05, 5.95]]).unwrap();
        // Both groups have variance 0.005; the pooled standard deviation is √0.005.
        assert!((noise - 0.005f64.sqrt()).abs() < 1e-12, "{noise}");
        assert_eq!(
            pooled_seed_std(&[vec![6.0], vec![7.0]]),
            None,
            "one seed each: unknown"
        );
    }

    #[test]
    fn explained_variance_is_the_between_group_share() {
        // Two groups with means 1 and 3, each ±1: between 4·1 = 4, total 4 + 4 = 8.
        let v = [0.0, 2.0, 2.0, 4.0];
        assert_eq!(explained_variance(&v, &[0, 0, 1, 1]), Some(0.5));
        assert_eq!(explained_variance(&v, &[0, 1, 2, 3]), Some(1.0));
        assert_eq!(explained_variance(&v, &[0, 0, 0, 0]), Some(0.0));
        assert_eq!(explained_variance(&[1.0, 1.0, 1.0], &[0, 1, 2]), None);
        assert_eq!(explained_variance(&[1.0, 2.0], &[0, 1]), None);
    }

    #[test]
    fn stats_use_the_sample_standard_deviation() {
        let s = Stat::of(&[1.0, 2.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.mean, s.std, s.n), (2.0, Some(1.0), 3));
        assert_eq!(Stat::of(&[4.0]).unwrap().std, None);
        assert_eq!(Stat::of(&[]), None);
    }
}
