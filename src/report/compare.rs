//! Comparing configurations by the uncertainty of their own means ([`stats::welch`]), on the
//! logarithm of the metric when all its values are positive (a gap then reads as a ratio:
//! "5.2% higher"), and saying so when the seeds cannot decide, with about how many would. The
//! set of configurations that cannot be told apart from the best is found with Bonferroni's
//! correction for the number of comparisons (each at level / m, with intervals at that level,
//! so that an interval that excludes no gap always goes with "cannot separate").

use super::lang::Lang;
use super::numbers;
use super::stats::{self, Welch};

/// The scale values are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// ln(value): every value is positive, so differences are ratios.
    Log,
    /// The values themselves.
    Linear,
}

impl Scale {
    /// Log when every one of `values` is positive, else linear.
    pub fn of<'a>(values: impl IntoIterator<Item = &'a f64>) -> Scale {
        let mut any = false;
        for v in values {
            any = true;
            if *v <= 0.0 {
                return Scale::Linear;
            }
        }
        if any {
            Scale::Log
        } else {
            Scale::Linear
        }
    }

    fn apply(self, values: &[f64]) -> Vec<f64> {
        match self {
            Scale::Log => values.iter().map(|v| v.ln()).collect(),
            Scale::Linear => values.to_vec(),
        }
    }

    /// "on log values" / "对数值上": how the definitions and verdicts name it.
    pub fn words(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Scale::Log, Lang::En) => "on log values",
            (Scale::Linear, Lang::En) => "on the values",
            (Scale::Log, Lang::Zh) => "取对数后",
            (Scale::Linear, Lang::Zh) => "按原值",
        }
    }
}

/// What the seeds of two configurations say about their means.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// One of them has a single value: there is no spread to compare the gap with.
    OneSeed,
    /// Welch's test, and whether it rejects equal means (at the level the caller applied).
    Tested {
        /// The test of the second against the first, on the comparison's scale.
        test: Welch,
        /// Its gap is real at the level.
        real: bool,
        /// About how many seeds each would detect the observed gap (when it is not real).
        seeds: Option<usize>,
    },
}

/// Two configurations compared: the second against the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The scale of the test.
    pub scale: Scale,
    /// The number of values of each.
    pub n: (usize, usize),
    /// The level of the test and of its interval.
    pub level: f64,
    /// What their seeds say.
    pub verdict: Verdict,
}

impl Comparison {
    /// Whether the gap is real at the level.
    pub fn real(&self) -> bool {
        matches!(self.verdict, Verdict::Tested { real: true, .. })
    }

    /// The test, when there is one.
    pub fn test(&self) -> Option<&Welch> {
        match &self.verdict {
            Verdict::Tested { test, .. } => Some(test),
            Verdict::OneSeed => None,
        }
    }
}

/// `b` against `a` on `scale`, real when Welch's p-value is at most `level`, with the seeds
/// that would decide it when it is not.
pub fn compare(a: &[f64], b: &[f64], scale: Scale, level: f64) -> Comparison {
    with_seeds(compare_only(a, b, scale, level), a, b)
}

/// [`compare`] without the seeds that would decide.
fn compare_only(a: &[f64], b: &[f64], scale: Scale, level: f64) -> Comparison {
    let verdict = match stats::welch(&scale.apply(a), &scale.apply(b), level) {
        None => Verdict::OneSeed,
        Some(test) => Verdict::Tested {
            real: test.p <= level,
            test,
            seeds: None,
        },
    };
    Comparison {
        scale,
        n: (a.len(), b.len()),
        level,
        verdict,
    }
}

/// Each of `others` against `best`, with Bonferroni's correction over all of them: each test
/// and its interval at [`stats::LEVEL`] / m. The seeds that would decide are left out (each
/// costs many t quantiles): [`with_seeds`] adds them to the comparisons shown.
pub fn against_best(best: &[f64], others: &[Vec<f64>], scale: Scale) -> Vec<Comparison> {
    let level = stats::LEVEL / others.len().max(1) as f64;
    others
        .iter()
        .map(|o| compare_only(best, o, scale, level))
        .collect()
}

/// `c` (a comparison of `a` and `b`) with the seeds that would decide it, when it is not real.
pub fn with_seeds(mut c: Comparison, a: &[f64], b: &[f64]) -> Comparison {
    if let Verdict::Tested {
        real: false, seeds, ..
    } = &mut c.verdict
    {
        *seeds = stats::seeds_needed(&c.scale.apply(a), &c.scale.apply(b), c.level);
    }
    c
}

/// The gap of a comparison and its interval, in words: "5.2% higher, 95% interval +3.1% to
/// +7.4%" on log values, "0.012 higher, 95% interval +0.0040 to +0.020" on the values.
pub fn gap(c: &Comparison, lang: Lang) -> Option<String> {
    let t = c.test()?;
    let confidence = format!("{}%", numbers::significant(Some((1.0 - c.level) * 100.0)));
    let (value, lo, hi) = match c.scale {
        Scale::Log => (
            percent(t.diff.exp_m1()),
            percent(t.interval.0.exp_m1()),
            percent(t.interval.1.exp_m1()),
        ),
        Scale::Linear => (
            numbers::significant(Some(t.diff.abs())),
            signed(t.interval.0),
            signed(t.interval.1),
        ),
    };
    let (higher, lower) = match lang {
        Lang::En => ("higher", "lower"),
        Lang::Zh => ("高", "低"),
    };
    let word = if t.diff >= 0.0 { higher } else { lower };
    if t.diff == 0.0 {
        return Some(match lang {
            Lang::En => format!("the same, {confidence} interval {lo} to {hi}"),
            Lang::Zh => format!("相同，{confidence} 区间 {lo} 至 {hi}"),
        });
    }
    let value = value.trim_start_matches(['+', '−']).to_string();
    Some(match lang {
        Lang::En => format!("{value} {word}, {confidence} interval {lo} to {hi}"),
        Lang::Zh => format!("{word} {value}，{confidence} 区间 {lo} 至 {hi}"),
    })
}

/// "+5.2%" / "−20%": a relative change with 2 significant digits and its sign.
fn percent(x: f64) -> String {
    format!("{}%", signed(x * 100.0))
}

/// "+0.012" / "−0.004": 2 significant digits (at least the units) and a sign.
fn signed(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let sign = if x < 0.0 { "−" } else { "+" };
    let a = x.abs();
    let digits = if a == 0.0 || a >= 10.0 {
        0
    } else {
        (1 - a.log10().floor() as i32).max(0) as usize
    };
    format!("{sign}{a:.digits$}")
}

/// "2 seeds cannot separate them; about 14 seeds each would." for a gap that is not real.
pub fn undecided(c: &Comparison, unit: &str, lang: Lang) -> String {
    let n = c.n.0.min(c.n.1);
    let seeds = match &c.verdict {
        Verdict::Tested { seeds, .. } => *seeds,
        Verdict::OneSeed => None,
    };
    match (lang, seeds) {
        (Lang::En, Some(s)) if s > 1000 => format!(
            "{} cannot separate them, nor would 1,000 each",
            numbers::count(n, unit)
        ),
        (Lang::En, Some(s)) => format!(
            "{} cannot separate them; about {} each would",
            numbers::count(n, unit),
            numbers::count(s, unit)
        ),
        (Lang::Zh, Some(s)) if s > 1000 => format!("{n} 个{unit}无法区分它们，每个 1000 个也不够"),
        (Lang::En, None) => format!("{} cannot separate them", numbers::count(n, unit)),
        (Lang::Zh, Some(s)) => format!("{n} 个{unit}无法区分它们；每个约需 {s} 个"),
        (Lang::Zh, None) => format!("{n} 个{unit}无法区分它们"),
    }
}

/// Test values: `n` values of `mean` × (1 ± `spread`), the sign alternating and every other
/// pair at half the spread (seeds with a known spread, for the verdict tests).
#[cfg(test)]
pub(crate) fn spread_values(mean: f64, spread: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            let width = if i / 2 % 2 == 0 { 1.0 } else { 0.5 };
            mean * (1.0 + sign * width * spread)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(mean: f64, spread: f64, n: usize) -> Vec<f64> {
        spread_values(mean, spread, n)
    }

    #[test]
    fn equal_means_with_different_spreads_are_no_real_difference() {
        let c = compare(&seeds(5.0, 0.01, 5), &seeds(5.0, 0.2, 5), Scale::Log, 0.05);
        assert!(!c.real(), "{c:?}");
    }

    #[test]
    fn a_five_percent_gap_with_one_percent_noise_over_five_seeds_is_real_whatever_a_noisy_neighbour(
    ) {
        let best = seeds(5.0, 0.01, 5);
        let next = seeds(5.25, 0.01, 5);
        let wild = seeds(7.0, 0.5, 5);
        let c = against_best(&best, &[next.clone(), wild], Scale::Log);
        assert!(c[0].real(), "{:?}", c[0]);
        let text = gap(&c[0], Lang::En).unwrap();
        assert!(text.starts_with("5.0% higher, 97.5% interval +"), "{text}");
        // The same gap, 2 seeds of noisy values: the seeds cannot decide, and say how many would.
        let noisy = compare(
            &seeds(5.0, 0.06, 2),
            &seeds(5.25, 0.06, 2),
            Scale::Log,
            0.05,
        );
        assert!(!noisy.real(), "{noisy:?}");
        let text = undecided(&noisy, "seed", Lang::En);
        assert!(
            text.starts_with("2 seeds cannot separate them; about "),
            "{text}"
        );
        let Verdict::Tested { seeds: Some(n), .. } = noisy.verdict else {
            panic!("{noisy:?}");
        };
        // ln values ±0.06: variances 0.0072 each; (t₀.₉₇₅ + t₀.₈)² × 0.0144 / ln(1.05)² at the
        // degrees of freedom of 49 seeds each (96) first stays below n at 49.
        assert_eq!(n, 49);
    }

    #[test]
    fn ten_seeds_detect_a_gap_two_cannot() {
        let (a, b) = (5.0, 5.2);
        let two = compare(&seeds(a, 0.03, 2), &seeds(b, 0.03, 2), Scale::Log, 0.05);
        let ten = compare(&seeds(a, 0.03, 10), &seeds(b, 0.03, 10), Scale::Log, 0.05);
        assert!(!two.real() && ten.real(), "{two:?} {ten:?}");
    }

    #[test]
    fn a_metric_with_negative_values_is_compared_on_the_values() {
        assert_eq!(Scale::of(&[1.0, -2.0]), Scale::Linear);
        assert_eq!(Scale::of(&[1.0, 2.0]), Scale::Log);
        let c = compare(
            &[-1.0, -1.1, -0.9],
            &[-2.0, -2.1, -1.9],
            Scale::Linear,
            0.05,
        );
        assert!(c.real());
        assert_eq!(
            gap(&c, Lang::En).unwrap(),
            "1 lower, 95% interval −1.2 to −0.77"
        );
        assert!(matches!(
            compare(&[1.0], &[2.0, 3.0], Scale::Log, 0.05).verdict,
            Verdict::OneSeed
        ));
    }
}
