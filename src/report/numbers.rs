//! How reports write numbers: statistics as `mean ± std`, and everything
//! [`crate::measures::numbers`] writes (perplexities that blew up read `4.7e85` or `inf`,
//! durations and counts for people).

use crate::measures::numbers::SCIENTIFIC_FROM;
pub use crate::measures::numbers::{count, duration, fixed, opt, thousands};

use super::analysis::Stat;

/// `5.75 ± 0.03`, `5.75` for a single value (or when the spread is not finite), `–` for none.
pub fn stat(s: Option<Stat>, decimals: usize) -> String {
    match s {
        None => "–".into(),
        Some(Stat {
            mean,
            std: Some(sd),
            ..
        }) if mean.is_finite() && sd.is_finite() && mean.abs() < SCIENTIFIC_FROM => {
            format!("{mean:.decimals$} ± {sd:.decimals$}")
        }
        Some(Stat { mean, .. }) => fixed(mean, decimals),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blown_up_statistics_stay_short() {
        let s = |mean, std| Some(Stat { mean, std, n: 2 });
        assert_eq!(stat(s(5.75, Some(0.031)), 2), "5.75 ± 0.03");
        assert_eq!(stat(s(4.7e85, Some(1e85)), 2), "4.7e85");
        assert_eq!(stat(s(f64::INFINITY, Some(f64::NAN)), 2), "inf");
        assert_eq!(stat(None, 2), "–");
    }
}
