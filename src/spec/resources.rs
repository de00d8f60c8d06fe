//! The `resources` section of a grid file: what each trial needs to run, its share of the GPUs
//! and its CPUs. Where a trial runs does not change its results, so none of it enters a trial's
//! id.

use serde_json::{Map, Value};

use super::params::{describe, suggest};

/// Keys allowed in the `resources` section.
const KEYS: &[&str] = &["gpus", "cpus"];

/// Most GPUs one trial may ask for, and the smallest share (1/this of a GPU).
const MOST: u32 = 64;

/// What each trial of a sweep needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Its share of the GPUs; `None`: it needs none.
    pub gpus: Option<GpuShare>,
    /// CPUs (threads) each trial trains on: `--cpus-per-task` on Slurm; `None`: one, or what
    /// the `slurm` section says.
    pub cpus: Option<u32>,
}

/// A trial's share of the GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuShare {
    /// 1/k of one GPU: k trials share each GPU.
    Fraction(u32),
    /// This many whole GPUs (1 or more).
    Whole(u32),
}

impl GpuShare {
    /// Reads `gpus`: a whole number from 1, or a fraction 1/k that divides a GPU evenly (0.5,
    /// 0.25, 0.2, …).
    pub fn parse(value: &Value) -> Result<GpuShare, String> {
        let expected = || {
            format!(
                "expected a whole number of GPUs from 1 to {MOST}, or a share of one that \
                 divides it evenly (0.5, 0.25, 0.2, …), got {}",
                describe(value)
            )
        };
        let x = value
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(expected)?;
        if x <= 0.0 {
            return Err(format!(
                "a trial needs more than 0 GPUs, got {}",
                describe(value)
            ));
        }
        if x >= 1.0 {
            return match x.fract() == 0.0 && x <= f64::from(MOST) {
                true => Ok(GpuShare::Whole(x as u32)),
                false => Err(expected()),
            };
        }
        let k = (1.0 / x).round();
        if (1.0 / k - x).abs() > 1e-9 * x || k > f64::from(MOST) {
            return Err(format!(
                "{} does not divide a GPU evenly: use 1/k of one (0.5, 0.25, 0.2, …) so that k \
                 trials share each GPU",
                describe(value)
            ));
        }
        Ok(GpuShare::Fraction(k as u32))
    }

    /// The GPUs each trial sees: 1 for a share of one.
    pub fn gpus_each(self) -> u32 {
        match self {
            GpuShare::Fraction(_) => 1,
            GpuShare::Whole(n) => n,
        }
    }

    /// How many trials share one GPU (1 for whole GPUs).
    pub fn per_gpu(self) -> u32 {
        match self {
            GpuShare::Fraction(k) => k,
            GpuShare::Whole(_) => 1,
        }
    }

    /// As the grid file writes it: `0.25`, `2`.
    pub fn describe(self) -> String {
        match self {
            GpuShare::Fraction(k) => format!("{}", 1.0 / f64::from(k)),
            GpuShare::Whole(n) => n.to_string(),
        }
    }
}

impl Resources {
    /// Reads the section; errors name the key (`resources.<key>`) and what was expected.
    pub fn from_json(value: &Value) -> Result<Resources, (String, String)> {
        let obj: &Map<String, Value> = value.as_object().ok_or_else(|| {
            (
                "resources".to_string(),
                format!("expected a JSON object, got {}", describe(value)),
            )
        })?;
        let mut out = Resources::default();
        for (key, v) in obj {
            let at = format!("resources.{key}");
            match key.as_str() {
                "gpus" => out.gpus = Some(GpuShare::parse(v).map_err(|m| (at, m))?),
                "cpus" => {
                    let n = v
                        .as_u64()
                        .filter(|n| (1..=1024).contains(n))
                        .ok_or_else(|| {
                            (
                                at,
                                format!("expected an integer from 1 to 1024, got {}", describe(v)),
                            )
                        })?;
                    out.cpus = Some(n as u32);
                }
                _ => {
                    let hint = suggest(key, KEYS)
                        .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"));
                    return Err((
                        at,
                        format!("unknown key; expected one of: {}{hint}", KEYS.join(", ")),
                    ));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shares_of_a_gpu_divide_it_evenly_and_whole_gpus_are_whole() {
        assert_eq!(GpuShare::parse(&json!(0.5)), Ok(GpuShare::Fraction(2)));
        assert_eq!(GpuShare::parse(&json!(0.25)), Ok(GpuShare::Fraction(4)));
        assert_eq!(GpuShare::parse(&json!(0.2)), Ok(GpuShare::Fraction(5)));
        assert_eq!(GpuShare::parse(&json!(1)), Ok(GpuShare::Whole(1)));
        assert_eq!(GpuShare::parse(&json!(2.0)), Ok(GpuShare::Whole(2)));
        for bad in [
            json!(0),
            json!(-1),
            json!(0.3),
            json!(0.4),
            json!(1.5),
            json!("1"),
            json!(65),
        ] {
            assert!(GpuShare::parse(&bad).is_err(), "{bad}");
        }
        assert!(GpuShare::parse(&json!(0.3))
            .unwrap_err()
            .contains("does not divide a GPU evenly"));
        assert!(GpuShare::parse(&json!(0))
            .unwrap_err()
            .contains("more than 0 GPUs"));
        assert_eq!(GpuShare::Fraction(4).describe(), "0.25");
    }

    #[test]
    fn the_section_names_the_key_that_is_wrong() {
        let r = Resources::from_json(&json!({"gpus": 0.5, "cpus": 2})).unwrap();
        assert_eq!((r.gpus, r.cpus), (Some(GpuShare::Fraction(2)), Some(2)));
        let (key, message) = Resources::from_json(&json!({"gpu": 1})).unwrap_err();
        assert_eq!(key, "resources.gpu");
        assert!(message.contains("did you mean `gpus`"), "{message}");
        let (key, _) = Resources::from_json(&json!({"cpus": 0})).unwrap_err();
        assert_eq!(key, "resources.cpus");
    }
}
