//! How numbers are written for people: perplexities that blew up read `4.7e85` or `inf`,
//! never as 86 digits; durations and counts as people say them.

use std::time::Duration;

/// Beyond this magnitude a number is written in scientific notation.
pub(crate) const SCIENTIFIC_FROM: f64 = 1e6;

/// `x` with `decimals` decimals; `4.7e85` beyond a million; `inf` or `nan` when not finite.
pub fn fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if x.abs() >= SCIENTIFIC_FROM {
        format!("{x:.1e}")
    } else {
        format!("{x:.decimals$}")
    }
}

/// [`fixed`], or `–` for none.
pub fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "–".into(), |x| fixed(x, decimals))
}

/// `12.3 s` under a minute, `4m 5s` above.
pub fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        humantime::format_duration(Duration::from_secs(seconds.round() as u64)).to_string()
    }
}

/// `29,884`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 trial`, `2 trials`: `singular` with an `s` unless `n` is 1.
pub fn count(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blown_up_numbers_stay_short() {
        assert_eq!(fixed(4.7e85, 2), "4.7e85");
        assert_eq!(fixed(f64::INFINITY, 2), "inf");
        assert_eq!(fixed(f64::NAN, 2), "nan");
        assert_eq!(fixed(5.754, 2), "5.75");
        assert_eq!(fixed(123456.0, 2), "123456.00");
        assert_eq!(fixed(1234567.0, 2), "1.2e6");
    }

    #[test]
    fn counts_and_durations_read_well() {
        assert_eq!(count(1, "trial"), "1 trial");
        assert_eq!(count(3, "trial"), "3 trials");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4m 5s");
    }
}
