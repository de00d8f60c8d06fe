//! The statistics behind the verdicts: Welch's two-sample t-test (unequal variances) with its
//! confidence interval at any level, and how many seeds would
//! detect an observed gap. The Student t distribution comes from the regularized incomplete
//! beta function (continued fraction, as in Numerical Recipes §6.4).

/// The level of every verdict: a difference is called real when a two-sided test rejects
/// equal means at this level (divided among the comparisons when several are made at once).
pub const LEVEL: f64 = 0.05;

/// The power [`seeds_needed`] plans for.
pub const POWER: f64 = 0.8;

/// Welch's test of two samples: `b`'s mean minus `a`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// Mean of `b` minus mean of `a`.
    pub diff: f64,
    /// Its standard error.
    pub se: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value of equal means.
    pub p: f64,
    /// The confidence interval of `diff` at the level asked for.
    pub interval: (f64, f64),
}

/// Mean and sample variance (n − 1).
fn moments(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Welch's t-test of `b` against `a`, with the `1 − level` confidence interval of the gap;
/// `None` unless each has two or more finite values.
pub fn welch(a: &[f64], b: &[f64], level: f64) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 || a.iter().chain(b).any(|v| !v.is_finite()) {
        return None;
    }
    let ((ma, va), (mb, vb)) = (moments(a), moments(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (qa, qb) = (va / na, vb / nb);
    let se = (qa + qb).sqrt();
    let diff = mb - ma;
    if se <= f64::EPSILON * (ma.abs() + mb.abs()).max(1e-300) {
        // Every seed gave the same value in both: any gap is exact.
        let p = if diff == 0.0 { 1.0 } else { 0.0 };
        return Some(Welch {
            diff,
            se: 0.0,
            df: na + nb - 2.0,
            p,
            interval: (diff, diff),
        });
    }
    let df = (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    let t = diff / se;
    let p = two_sided_p(t, df);
    let q = t_quantile(1.0 - level / 2.0, df);
    Some(Welch {
        diff,
        se,
        df,
        p,
        interval: (diff - q * se, diff + q * se),
    })
}

/// About how many seeds each of two configurations would need for Welch's test at `level` to
/// detect the gap between their means with [`POWER`], if their spreads are what `a` and `b`
/// show: the smallest n with (t₁₋ₗₑᵥₑₗ/₂ + t_power)² (s²ₐ + s²ᵦ) / gap² ≤ n, the t quantiles at
/// the Welch degrees of freedom that n seeds each would give. At least one more than either has;
/// `None` without a gap or a spread, or beyond a million.
pub fn seeds_needed(a: &[f64], b: &[f64], level: f64) -> Option<usize> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let ((ma, va), (mb, vb)) = (moments(a), moments(b));
    let gap = (mb - ma).abs();
    if gap == 0.0 || !gap.is_finite() || va + vb <= 0.0 {
        return None;
    }
    let enough = |n: usize| {
        let df = (va + vb).powi(2) * (n as f64 - 1.0) / (va * va + vb * vb);
        let z = t_quantile(1.0 - level / 2.0, df) + t_quantile(POWER, df);
        z * z * (va + vb) / (gap * gap) <= n as f64
    };
    // The smallest n that is enough (more seeds only help): doubling, then bisection.
    let mut lo = a.len().max(b.len());
    let mut hi = lo + 1;
    while !enough(hi) {
        lo = hi;
        hi *= 2;
        if hi > 1_000_000 {
            return None;
        }
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if enough(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// The two-sided p-value of `t` under Student's t with `df` degrees of freedom.
pub fn two_sided_p(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0)
}

/// The `p` quantile (0.5 < p < 1) of Student's t with `df` degrees of freedom, by bisection.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let target = 2.0 * (1.0 - p);
    let (mut lo, mut hi) = (0.0, 1.0);
    while two_sided_p(hi, df) > target && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_p(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn student_t_matches_published_tables() {
        // Two-sided p-values and 97.5% quantiles (R: 2*pt(-t, df), qt(0.975, df)).
        assert!(close(two_sided_p(2.0, 10.0), 0.073_388, 1e-5));
        assert!(close(two_sided_p(1.0, 1.0), 0.5, 1e-9));
        assert!(close(two_sided_p(0.0, 3.0), 1.0, 1e-12));
        assert!(close(t_quantile(0.975, 1.0), 12.706_2, 1e-3));
        assert!(close(t_quantile(0.975, 4.0), 2.776_45, 1e-4));
        assert!(close(t_quantile(0.975, 30.0), 2.042_27, 1e-4));
        assert!(
            close(t_quantile(0.975, 1e9), 1.959_96, 1e-4),
            "the normal limit"
        );
        assert!(close(t_quantile(0.8, 1e9), 0.841_62, 1e-4));
    }

    #[test]
    fn welch_matches_a_worked_example_and_handles_exact_values() {
        // a = 1..5 (variance 2.5), b = 2, 4, …, 12 (variance 14): se = √(2.5/5 + 14/6) =
        // 1.6833, t = 4 / se = 2.3763, df = 2.8333² / (0.5²/4 + 2.3333²/5) = 6.972, and with
        // t₀.₉₇₅(6.97) ≈ 2.367 the interval is 4 ± 3.984; t₀.₉₇₅(7) = 2.365 puts p just under 5%.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0, 12.0];
        let w = welch(&a, &b, LEVEL).unwrap();
        assert!(close(w.diff, 4.0, 1e-12));
        assert!(close(w.diff / w.se, 2.3763, 1e-3), "{w:?}");
        assert!(close(w.df, 6.972, 1e-2), "{w:?}");
        assert!(w.p > 0.045 && w.p < 0.05, "{w:?}");
        assert!(
            close(w.interval.0, 0.016, 0.02) && close(w.interval.1, 7.984, 0.02),
            "{w:?}"
        );
        assert_eq!(welch(&[1.0], &b, LEVEL), None, "one value has no spread");
        let exact = welch(&[2.0, 2.0], &[3.0, 3.0], LEVEL).unwrap();
        assert_eq!((exact.p, exact.interval), (0.0, (1.0, 1.0)));
        assert_eq!(welch(&[2.0, 2.0], &[2.0, 2.0], LEVEL).unwrap().p, 1.0);
    }

    #[test]
    fn more_seeds_are_needed_for_a_smaller_gap_or_a_wider_spread() {
        let a = [1.0, 1.1, 0.9];
        let near = seeds_needed(&a, &[1.1, 1.2, 1.0], LEVEL).unwrap();
        let far = seeds_needed(&a, &[1.5, 1.6, 1.4], LEVEL).unwrap();
        assert!(near > far, "{near} {far}");
        // (t₀.₉₇₅ + t₀.₈)² × (0.01 + 0.01) / 0.1² ≤ n first at n = 17 (df = 32: 2.037 + 0.853,
        // 16.7); the normal approximation would say 16.
        assert_eq!(near, 17);
        assert_eq!(far, 4, "never fewer than the seeds already run, plus one");
        assert_eq!(seeds_needed(&a, &a, LEVEL), None);
    }
}
