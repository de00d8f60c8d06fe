//! The measures of the analysis, computed from stored curves: convergence speed, volatility,
//! overfitting, and mean ± std aggregation over seeds and axes. Pure functions, so they can be
//! tested on synthetic curves with known answers.

use crate::executor::worker::FINAL_TRAIN_WINDOW;
use crate::store::MetricRow;

/// "Converged" means the smoothed training perplexity is within this fraction of its final value.
pub const CONVERGENCE_MARGIN: f64 = 0.10;
/// Window (steps) of the trailing mean that smooths training perplexity for convergence.
pub const SMOOTHING_WINDOW: usize = 25;
/// Volatility is measured over this last fraction of training.
pub const VOLATILITY_TAIL: f64 = 0.5;
/// The last [`OVERFIT_TAIL`] held-out evaluations averaging this much above the best earlier
/// one, while training perplexity kept falling, count as overfitting.
pub const OVERFIT_MARGIN: f64 = 0.03;
/// Held-out evaluations at the end of training compared with the best one before them; more
/// than one, so that a single noisy evaluation is not called overfitting.
pub const OVERFIT_TAIL: usize = 3;
/// Relative measures at most this far above the best row get the best row's label.
pub const LABEL_NEAR: f64 = 1.25;
/// Relative measures more than this far above the best row get the worst label.
pub const LABEL_FAR: f64 = 2.0;
/// Differences count as real when they exceed this many seed-to-seed standard deviations.
pub const NOISE_SIGMAS: f64 = 2.0;

/// What one completed trial's curves say.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialMeasures {
    /// Mean training perplexity of the last [`FINAL_TRAIN_WINDOW`] steps.
    pub final_train_ppl: f64,
    /// Held-out perplexity after the last step.
    pub final_heldout_ppl: Option<f64>,
    /// First step at which the smoothed training perplexity is within
    /// [`CONVERGENCE_MARGIN`] of the final training perplexity.
    pub convergence_step: usize,
    /// Standard deviation of the step-to-step change of ln(training perplexity) over the last
    /// [`VOLATILITY_TAIL`] of training (0.05 ≈ typical ±5% jumps between steps).
    pub volatility: f64,
    /// The last [`OVERFIT_TAIL`] held-out evaluations average more than [`OVERFIT_MARGIN`]
    /// above the best evaluation before them, while the training perplexity went on falling.
    pub overfitting: bool,
}

/// Measures the curves of a trial; `None` without rows.
pub fn measure(rows: &[MetricRow]) -> Option<TrialMeasures> {
    let n = rows.len();
    if n == 0 {
        return None;
    }
    let tail_mean = |end: usize| {
        let start = end.saturating_sub(FINAL_TRAIN_WINDOW);
        let slice = &rows[start..end];
        slice.iter().map(|r| r.train_ppl).sum::<f64>() / slice.len() as f64
    };
    let final_train_ppl = tail_mean(n);
    let train_mean_at = tail_mean;

    let mut sum = 0.0;
    let mut convergence_step = rows[n - 1].step;
    for (i, r) in rows.iter().enumerate() {
        sum += r.train_ppl;
        if i >= SMOOTHING_WINDOW {
            sum -= rows[i - SMOOTHING_WINDOW].train_ppl;
        }
        let smoothed = sum / (i + 1).min(SMOOTHING_WINDOW) as f64;
        if smoothed <= final_train_ppl * (1.0 + CONVERGENCE_MARGIN) {
            convergence_step = r.step;
            break;
        }
    }

    let from = ((n as f64) * (1.0 - VOLATILITY_TAIL)).floor() as usize;
    let diffs: Vec<f64> = rows[from..]
        .windows(2)
        .map(|w| w[1].train_ppl.ln() - w[0].train_ppl.ln())
        .collect();
    let volatility = Stat::of(&diffs).and_then(|s| s.std).unwrap_or(0.0);

    let evals: Vec<(usize, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.heldout_ppl.map(|h| (i, h)))
        .collect();
    let overfitting = if evals.len() > OVERFIT_TAIL {
        let (before, tail) = evals.split_at(evals.len() - OVERFIT_TAIL);
        let tail_mean = tail.iter().map(|e| e.1).sum::<f64>() / tail.len() as f64;
        let &(best_at, best) = before
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("non-empty");
        tail_mean > best * (1.0 + OVERFIT_MARGIN) && final_train_ppl < train_mean_at(best_at + 1)
    } else {
        false
    };

    Some(TrialMeasures {
        final_train_ppl,
        final_heldout_ppl: rows[n - 1].heldout_ppl,
        convergence_step,
        volatility,
        overfitting,
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

/// Whether two means differ by more than seed-to-seed noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// The gap exceeds [`NOISE_SIGMAS`] seed standard deviations.
    Clear,
    /// The gap is within the noise: a tie.
    WithinNoise,
    /// Only one seed per configuration: the noise is unknown.
    Unknown,
}

/// Judges the gap between a best and a runner-up mean against the seed noise.
pub fn judge(best: f64, runner_up: f64, seed_std: Option<f64>) -> Difference {
    match seed_std {
        None => Difference::Unknown,
        Some(s) if (runner_up - best).abs() > NOISE_SIGMAS * s => Difference::Clear,
        Some(_) => Difference::WithinNoise,
    }
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
                MetricRow {
                    step,
                    train_loss: ppl.ln(),
                    train_ppl: ppl,
                    heldout_ppl: (step % 100 == 0).then(|| heldout(step)),
                    elapsed_s: step as f64 * 0.01,
                }
            })
            .collect()
    }

    #[test]
    fn a_fast_curve_converges_early_and_a_slow_one_late() {
        let fast = measure(&curve(1000, 6.0, 30.0, 0.0, |_| 7.0)).unwrap();
        let slow = measure(&curve(1000, 6.0, 250.0, 0.0, |_| 7.0)).unwrap();
        // 40·e^(−t/τ) + 6 ≤ 1.1·6 first at t ≈ τ·ln(34/0.6) ≈ 4.04τ (plus the smoothing lag).
        assert!((115..=150).contains(&fast.convergence_step), "{fast:?}");
        // The slow one ends near 6.8, so it is "converged" once within 10% of that: t ≈ 780.
        assert!((750..=850).contains(&slow.convergence_step), "{slow:?}");
        assert_eq!(
            grade(&[fast.convergence_step as f64, slow.convergence_step as f64]),
            [Grade::Best, Grade::Worst]
        );
    }

    #[test]
    fn a_noisy_curve_is_more_volatile_than_a_smooth_one() {
        let smooth = measure(&curve(1000, 6.0, 50.0, 0.01, |_| 7.0)).unwrap();
        let noisy = measure(&curve(1000, 6.0, 50.0, 0.10, |_| 7.0)).unwrap();
        // Uniform jitter of ±a has std a/√3; a difference of two has std a·√(2/3).
        assert!(
            (noisy.volatility - 0.1 * (2.0f64 / 3.0).sqrt()).abs() < 0.01,
            "{noisy:?}"
        );
        assert!(noisy.volatility > 8.0 * smooth.volatility);
        assert_eq!(
            grade(&[smooth.volatility, noisy.volatility]),
            [Grade::Best, Grade::Worst]
        );
    }

    #[test]
    fn rising_heldout_while_train_falls_is_overfitting() {
        let over = measure(&curve(1000, 3.0, 100.0, 0.0, |s| {
            if s <= 400 {
                8.0 - s as f64 / 200.0
            } else {
                6.0 + (s - 400) as f64 / 100.0
            }
        }))
        .unwrap();
        assert!(over.overfitting, "{over:?}");
        let fine = measure(&curve(1000, 3.0, 100.0, 0.0, |s| 8.0 - s as f64 / 500.0)).unwrap();
        assert!(!fine.overfitting, "{fine:?}");
        assert_eq!(fine.final_heldout_ppl, Some(6.0));
    }

    #[test]
    fn final_train_perplexity_is_the_mean_of_the_last_50_steps() {
        let rows = curve(200, 5.0, 10.0, 0.0, |_| 6.0);
        let m = measure(&rows).unwrap();
        let want = rows[150..].iter().map(|r| r.train_ppl).sum::<f64>() / 50.0;
        assert!((m.final_train_ppl - want).abs() < 1e-12);
    }

    #[test]
    fn ties_within_seed_noise_are_ties() {
        let noise = pooled_seed_std(&[vec![6.0, 6.1], vec![6.05, 5.95]]).unwrap();
        // Both groups have variance 0.005; the pooled standard deviation is √0.005.
        assert!((noise - 0.005f64.sqrt()).abs() < 1e-12, "{noise}");
        assert_eq!(judge(6.00, 6.08, Some(0.05)), Difference::WithinNoise);
        assert_eq!(judge(6.00, 6.50, Some(0.05)), Difference::Clear);
        assert_eq!(judge(6.00, 6.50, None), Difference::Unknown);
        assert_eq!(
            pooled_seed_std(&[vec![6.0], vec![7.0]]),
            None,
            "one seed each: unknown"
        );
    }

    #[test]
    fn stats_use_the_sample_standard_deviation() {
        let s = Stat::of(&[1.0, 2.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.mean, s.std, s.n), (2.0, Some(1.0), 3));
        assert_eq!(Stat::of(&[4.0]).unwrap().std, None);
        assert_eq!(Stat::of(&[]), None);
    }
}
