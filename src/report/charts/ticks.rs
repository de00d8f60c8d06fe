//! Axis ticks: linear and logarithmic tick positions and their labels.

use super::*;

/// Shortest decimal rendering of a tick value (at most 6 decimals).
pub(super) fn fmt_tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            format!("{v}")
        };
    }
    if v.abs() >= 1e7 || v.abs() < 1e-4 {
        return format!("{v:.2e}");
    }
    for d in 0..=6 {
        let s = format!("{v:.d$}");
        if let Ok(back) = s.parse::<f64>() {
            if (back - v).abs() <= 1e-9 * v.abs() {
                return s;
            }
        }
    }
    format!("{v:.6}")
}

/// "Nice" linear ticks (steps of 1, 2, 2.5 or 5 × 10^k) inside `lo..=hi`, about `target` many.
pub(super) fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return if lo.is_finite() { vec![lo] } else { vec![] };
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    if !(first.is_finite() && last.is_finite()) || last < first {
        return vec![];
    }
    let n = (last - first).min(200.0) as usize;
    (0..=n).map(|i| (first + i as f64) * step).collect()
}

/// Nice ticks for a log axis over `lo..hi` (both > 0), at least `min_gap` apart in ln units:
/// powers of ten first, then 2 and 5, then 1.5, 3, 4, 6 and 8; linear ticks when the range is
/// too narrow for two of those.
pub(super) fn log_ticks(lo: f64, hi: f64, min_gap: f64) -> Vec<f64> {
    let fits = |chosen: &[f64], v: f64| chosen.iter().all(|c| (v / c).ln().abs() >= min_gap);
    let e0 = lo.log10().floor() as i32 - 1;
    let e1 = hi.log10().ceil() as i32 + 1;
    let tiers: [&[f64]; 3] = [&[1.0], &[2.0, 5.0], &[1.5, 3.0, 4.0, 6.0, 8.0]];
    let mut chosen: Vec<f64> = Vec::new();
    for tier in tiers {
        for e in e0..=e1.min(e0 + 400) {
            for m in tier {
                let v = m * 10f64.powi(e);
                if v >= lo && v <= hi && fits(&chosen, v) {
                    chosen.push(v);
                }
            }
        }
    }
    if chosen.len() < 3 {
        let mut linear = Vec::new();
        for v in linear_ticks(lo, hi, 6) {
            if v > 0.0 && fits(&linear, v) {
                linear.push(v);
            }
        }
        if linear.len() > chosen.len() {
            chosen = linear;
        }
    }
    chosen.sort_by(f64::total_cmp);
    chosen
}

/// A linear f64 axis with given tick positions (plotters' `with_key_points` on a plain f64
/// range loses the label formatter).
pub(super) struct TickedLinear {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl Ranged for TickedLinear {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        (f64::from(limit.0) + f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}
