//! TPE's proposals (Bergstra et al. 2011, with the `tpe` crate): one estimator per axis, as
//! Optuna's default independent sampler, fitted to the scored configurations it is given and
//! asked for the next one.
//!
//! A proposal depends only on the search seed, its index and the scored configurations, told
//! in their order: the same inputs give the same configuration on every machine.

use rand_tpe::rngs::ChaCha8Rng;
use rand_tpe::{RngExt, SeedableRng};
use serde_json::Value;
use tpe::{categorical_range, histogram_estimator, parzen_estimator, range, TpeOptimizer};

use super::search::Domain;

/// A configuration TPE learns from.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Its value of each axis, in axis order.
    pub values: Vec<Value>,
    /// Lower is better; only the order matters to TPE.
    pub score: f64,
    /// For each axis, whether the value had no effect (`dropout` with one layer): TPE then
    /// learns nothing about that axis from this configuration.
    pub unused: Vec<bool>,
}

/// Asks of TPE before a proposal that repeats an earlier configuration gives way to a uniform
/// draw (small spaces, or TPE sure of one corner).
const ASKS: usize = 50;

/// Proposes configuration `index` over `axes` from `scored`, distinct from every configuration
/// in `taken`. The generator is seeded by `seed` and `index` alone.
pub fn propose(
    axes: &[(String, Domain)],
    seed: u64,
    index: usize,
    scored: &[Scored],
    taken: &[Vec<Value>],
) -> Result<Vec<Value>, String> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut optimizers: Vec<TpeOptimizer> = axes
        .iter()
        .map(|(_, domain)| match domain {
            Domain::List(values) => TpeOptimizer::new(
                histogram_estimator(),
                categorical_range(values.len()).expect("lists are not empty"),
            ),
            Domain::Range(_) => {
                TpeOptimizer::new(parzen_estimator(), range(0.0, 1.0).expect("a valid range"))
            }
        })
        .collect();
    for s in scored {
        for (a, ((name, domain), optimizer)) in axes.iter().zip(&mut optimizers).enumerate() {
            let position = if s.unused[a] {
                f64::NAN
            } else {
                position(domain, &s.values[a])
                    .ok_or_else(|| format!("`{name}` = {} is not in its domain", s.values[a]))?
            };
            optimizer
                .tell(position, s.score)
                .map_err(|e| format!("TPE refused `{name}`: {e}"))?;
        }
    }
    for _ in 0..ASKS {
        let config = axes
            .iter()
            .zip(&mut optimizers)
            .map(|((_, domain), optimizer)| {
                let x = optimizer.ask(&mut rng).expect("the estimators cannot fail");
                value_at(domain, x)
            })
            .collect::<Vec<_>>();
        if !taken.contains(&config) {
            return Ok(config);
        }
    }
    for _ in 0..ASKS * 100 {
        let config: Vec<Value> = axes
            .iter()
            .map(|(_, domain)| {
                let u: f64 = rng.random();
                match domain {
                    Domain::List(values) => value_at(domain, u * values.len() as f64),
                    Domain::Range(_) => value_at(domain, u),
                }
            })
            .collect();
        if !taken.contains(&config) {
            return Ok(config);
        }
    }
    Err(format!(
        "could not find a configuration distinct from the {} before it",
        taken.len()
    ))
}

/// Where `value` lies in the estimator's coordinates: a list's index, a range's position in
/// [0, 1).
fn position(domain: &Domain, value: &Value) -> Option<f64> {
    match domain {
        Domain::List(values) => values.iter().position(|v| v == value).map(|i| i as f64),
        Domain::Range(r) => value.as_f64().map(|v| r.position(v)),
    }
}

/// The value at `x` in the estimator's coordinates.
fn value_at(domain: &Domain, x: f64) -> Value {
    match domain {
        Domain::List(values) => values[(x.max(0.0) as usize).min(values.len() - 1)].clone(),
        Domain::Range(r) => r.draw(x.clamp(0.0, 1.0 - 1e-9)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::search::Range;
    use serde_json::json;

    fn axes() -> Vec<(String, Domain)> {
        let lr = Range::parse(
            "lr",
            json!({"loguniform": [1e-3, 1e-1]}).as_object().unwrap(),
            &crate::spec::Params::Model(Default::default()),
        )
        .unwrap();
        vec![
            ("lr".into(), Domain::Range(lr)),
            (
                "cell".into(),
                Domain::List(vec![json!("rnn"), json!("gru"), json!("lstm")]),
            ),
        ]
    }

    /// A made-up objective: best at lr 0.01 with the GRU.
    fn score(values: &[Value]) -> f64 {
        let lr = values[0].as_f64().unwrap();
        (lr.log10() + 2.0).powi(2) + if values[1] == json!("gru") { 0.0 } else { 1.0 }
    }

    fn scored(configs: &[Vec<Value>]) -> Vec<Scored> {
        configs
            .iter()
            .map(|v| Scored {
                values: v.clone(),
                score: score(v),
                unused: vec![false; v.len()],
            })
            .collect()
    }

    #[test]
    fn a_proposal_depends_on_its_inputs_only_and_learns_from_them() {
        let axes = axes();
        let startup = crate::spec::search::draw(&axes, 10, 0).unwrap();
        let seen = scored(&startup);
        let a = propose(&axes, 0, 10, &seen, &startup).unwrap();
        assert_eq!(propose(&axes, 0, 10, &seen, &startup).unwrap(), a);
        assert_ne!(
            propose(&axes, 0, 11, &seen, &startup).unwrap(),
            a,
            "index seeds it"
        );
        assert!(!startup.contains(&a));

        // Thirty proposals, each from all before it, beat thirty random draws on average.
        let mut configs = startup.clone();
        for i in 10..40 {
            let next = propose(&axes, 0, i, &scored(&configs), &configs).unwrap();
            configs.push(next);
        }
        let mean = |c: &[Vec<Value>]| c.iter().map(|v| score(v)).sum::<f64>() / c.len() as f64;
        let random = crate::spec::search::draw(&axes, 40, 0).unwrap();
        let (tpe, rnd) = (mean(&configs[10..]), mean(&random[10..]));
        assert!(tpe < rnd * 0.7, "TPE {tpe} vs random {rnd}");
    }

    #[test]
    fn an_unused_value_teaches_nothing_and_a_full_space_is_an_error() {
        let axes = vec![(
            "cell".to_string(),
            Domain::List(vec![json!("rnn"), json!("gru")]),
        )];
        let taken = vec![vec![json!("rnn")]];
        let unused = Scored {
            values: vec![json!("rnn")],
            score: 1.0,
            unused: vec![true],
        };
        assert_eq!(
            propose(&axes, 0, 1, &[unused], &taken).unwrap(),
            [json!("gru")],
            "the only configuration left"
        );
        let full = vec![vec![json!("rnn")], vec![json!("gru")]];
        assert!(propose(&axes, 0, 2, &[], &full)
            .unwrap_err()
            .contains("distinct from the 2"));
    }
}
