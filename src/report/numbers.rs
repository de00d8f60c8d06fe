//! How reports write numbers: statistics as `mean ± std`, and everything
//! [`crate::measures::numbers`] writes (perplexities that blew up read `4.7e85` or `inf`,
//! durations and counts for people).

use crate::measures::numbers::SCIENTIFIC_FROM;
pub use crate::measures::numbers::{count, duration, fixed, opt, thousands};

use super::analysis::Stat;

/// `5.75 ± 0.03` (more decimals when the spread would otherwise print as 0: `0.00705 ±
/// 0.00007`), `5.75` for a single value (or when the spread is not finite), `–` for none.
pub fn stat(s: Option<Stat>, decimals: usize) -> String {
    match s {
        None => "–".into(),
        Some(Stat {
            mean,
            std: Some(sd),
            ..
        }) if mean.is_finite() && sd.is_finite() && mean.abs() < SCIENTIFIC_FROM => {
            // Enough decimals that a spread shows at least one significant digit.
            let d = if sd > 0.0 {
                decimals.max((-sd.log10().floor()).clamp(0.0, 12.0) as usize)
            } else {
                decimals
            };
            format!("{mean:.d$} ± {sd:.d$}")
        }
        Some(Stat { mean, .. }) => fixed(mean, decimals),
    }
}

/// `x` with 3 significant digits, trailing zeros dropped (`12.3`, `0.0071`, `41200`); `–` for
/// none.
pub fn significant(x: Option<f64>) -> String {
    let Some(x) = x.filter(|x| x.is_finite()) else {
        return x.map_or("–".into(), |x| format!("{x}"));
    };
    if x == 0.0 {
        return "0".into();
    }
    if x.abs() >= SCIENTIFIC_FROM || x.abs() < 1e-4 {
        return format!("{x:.2e}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_keep_small_numbers_visible() {
        assert_eq!(significant(Some(12.345)), "12.3");
        assert_eq!(significant(Some(0.0070712)), "0.00707");
        assert_eq!(significant(Some(41234.0)), "41234");
        assert_eq!(significant(Some(5.0)), "5");
        assert_eq!(significant(Some(0.0)), "0");
        assert_eq!(significant(None), "–");
    }

    #[test]
    fn blown_up_statistics_stay_short() {
        let s = |mean, std| Some(Stat { mean, std, n: 2 });
        assert_eq!(stat(s(5.75, Some(0.031)), 2), "5.75 ± 0.03");
        assert_eq!(stat(s(0.00705, Some(0.0000707)), 4), "0.00705 ± 0.00007");
        assert_eq!(stat(s(2.0, Some(0.0)), 4), "2.0000 ± 0.0000");
        assert_eq!(stat(s(4.7e85, Some(1e85)), 2), "4.7e85");
        assert_eq!(stat(s(f64::INFINITY, Some(f64::NAN)), 2), "inf");
        assert_eq!(stat(None, 2), "–");
    }
}
