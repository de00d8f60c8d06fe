//! Search beyond the grid: what a grid file's `search` section asks for, ranges of values
//! (`{"loguniform": [1e-3, 1e-1]}` …), and the configurations random search draws from them.
//!
//! Draws come from one ChaCha8 stream seeded by `search.seed`, one number per axis per
//! configuration in file order, so every machine draws the same configurations and raising
//! `trials` keeps the first ones. Drawn floats are rounded to 4 significant digits, so that
//! labels read well and trial ids are stable.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::params::{describe, suggest};
use super::trial_params::Params;

/// How values are drawn from a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind {
    /// Uniform between the bounds.
    Uniform,
    /// Uniform in the logarithm (both bounds > 0).
    LogUniform,
    /// A uniform integer, bounds included.
    Int,
    /// An integer, uniform in the logarithm (bounds ≥ 1, included).
    LogInt,
}

/// The kinds with their names in a grid file.
const KINDS: [(RangeKind, &str); 4] = [
    (RangeKind::Uniform, "uniform"),
    (RangeKind::LogUniform, "loguniform"),
    (RangeKind::Int, "int"),
    (RangeKind::LogInt, "logint"),
];

/// A range of values for one parameter, checked against it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// How values are drawn.
    pub kind: RangeKind,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound (> `lo`).
    pub hi: f64,
}

impl Range {
    /// Reads `{"<kind>": [lo, hi]}` for parameter `key`; both bounds must be valid values of it.
    pub fn parse(key: &str, value: &Map<String, Value>, base: &Params) -> Result<Range, String> {
        let names: Vec<&str> = KINDS.iter().map(|k| k.1).collect();
        let expected = format!(
            "expected a list of values or a range {{\"<kind>\": [lo, hi]}} with kind one of {}",
            names.join(", ")
        );
        let [(name, bounds)] = value.iter().collect::<Vec<_>>()[..] else {
            return Err(format!(
                "{expected}, got an object with {} keys",
                value.len()
            ));
        };
        let Some(&(kind, _)) = KINDS.iter().find(|k| k.1 == name) else {
            let hint = suggest(name, &names)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(format!("unknown range kind `{name}`{hint}; {expected}"));
        };
        let numbers: Vec<f64> = bounds
            .as_array()
            .filter(|a| a.len() == 2)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let [lo, hi] = numbers[..] else {
            return Err(format!(
                "`{name}` needs [lo, hi], two numbers, got {}",
                describe(bounds)
            ));
        };
        if lo >= hi {
            return Err(format!("`{name}` needs lo < hi, got [{lo}, {hi}]"));
        }
        let integer = matches!(kind, RangeKind::Int | RangeKind::LogInt);
        if integer && (lo.fract() != 0.0 || hi.fract() != 0.0) {
            return Err(format!("`{name}` needs integer bounds, got [{lo}, {hi}]"));
        }
        let floor = match kind {
            RangeKind::LogUniform => Some((0.0, "> 0")),
            RangeKind::LogInt => Some((1.0, "≥ 1")),
            _ => None,
        };
        if let Some((min, what)) = floor {
            if lo < min || (kind == RangeKind::LogUniform && lo <= 0.0) {
                return Err(format!("`{name}` needs bounds {what}, got [{lo}, {hi}]"));
            }
        }
        let range = Range { kind, lo, hi };
        let mut probe = base.clone();
        for (which, bound) in [("lo", lo), ("hi", hi)] {
            probe.set(key, &range.value(bound)).map_err(|e| {
                let hint = if integer {
                    ""
                } else {
                    " (an integer parameter takes {\"int\": [lo, hi]} or {\"logint\": [lo, hi]})"
                };
                format!("`{name}` {which} = {bound}: {e}{hint}")
            })?;
        }
        Ok(range)
    }

    /// The JSON value of `x` for this range: an integer for integer kinds, else a float
    /// rounded to 4 significant digits.
    pub fn value(&self, x: f64) -> Value {
        match self.kind {
            RangeKind::Int | RangeKind::LogInt => Value::from(x as i64),
            RangeKind::Uniform | RangeKind::LogUniform => Value::from(round4(x)),
        }
    }

    /// Where `value` lies in [0, 1): the inverse of [`Range::draw`] (for an integer, the
    /// middle of its share).
    pub fn position(&self, value: f64) -> f64 {
        let (lo, hi) = (self.lo, self.hi);
        let u = match self.kind {
            RangeKind::Uniform => (value - lo) / (hi - lo),
            RangeKind::LogUniform => (value.ln() - lo.ln()) / (hi.ln() - lo.ln()),
            RangeKind::Int => (value - lo + 0.5) / (hi - lo + 1.0),
            RangeKind::LogInt => {
                let middle = (value.ln() + (value + 1.0).ln()) / 2.0;
                (middle - lo.ln()) / ((hi + 1.0).ln() - lo.ln())
            }
        };
        u.clamp(0.0, 1.0 - 1e-9)
    }

    /// Draws one value from `u`, a uniform number in [0, 1).
    pub fn draw(&self, u: f64) -> Value {
        let (lo, hi) = (self.lo, self.hi);
        let x = match self.kind {
            RangeKind::Uniform => lo + u * (hi - lo),
            RangeKind::LogUniform => (lo.ln() + u * (hi.ln() - lo.ln())).exp(),
            RangeKind::Int => (lo + (u * (hi - lo + 1.0)).floor()).min(hi),
            RangeKind::LogInt => {
                // Uniform in log over [lo, hi + 1), so every integer gets its share.
                let x = (lo.ln() + u * ((hi + 1.0).ln() - lo.ln())).exp();
                x.floor().clamp(lo, hi)
            }
        };
        self.value(x.clamp(lo, hi))
    }
}

/// `x` rounded to 4 significant digits.
pub fn round4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// The values one axis takes: a list (a grid axis, or uniform choices for random search) or a
/// range (random search only).
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// These values.
    List(Vec<Value>),
    /// Values drawn from this range.
    Range(Range),
}

/// How the configurations of a grid file are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Search {
    /// Every combination of the lists (the default).
    #[default]
    Grid,
    /// `trials` configurations drawn from the axes with the generator seeded by `seed`.
    Random { trials: usize, seed: u64 },
    /// `trials` configurations: `startup` drawn as random search draws them, the others
    /// proposed by TPE from the results of the configurations before them ([`Tpe`]).
    Tpe(Tpe),
}

/// Model-based search: the Tree-structured Parzen Estimator (Bergstra et al. 2011).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tpe {
    /// Configurations in all.
    pub trials: usize,
    /// Seeds the random draws and TPE's sampling.
    pub seed: u64,
    /// The first configurations, drawn at random (as random search with this seed draws them).
    pub startup: usize,
    /// Configuration i is proposed from the results of configurations 0..=i−lag only, so at
    /// most `lag` proposals train at once and no proposal depends on which trial ended first.
    pub lag: usize,
}

impl Tpe {
    /// Random configurations before TPE proposes, unless the file says otherwise (Optuna's
    /// `n_startup_trials`).
    pub const DEFAULT_STARTUP: usize = 10;
    /// Proposals training at once, unless the file says otherwise.
    pub const DEFAULT_LAG: usize = 4;

    /// The configurations proposed together, in order: first the `startup` random ones, then
    /// `lag` at a time (each learns from every configuration up to `lag` before it, so all of
    /// them can be proposed once the earlier ones have finished).
    pub fn waves(&self) -> Vec<std::ops::Range<usize>> {
        let mut waves = Vec::new();
        waves.push(0..self.startup);
        let mut start = self.startup;
        while start < self.trials {
            let end = (start + self.lag).min(self.trials);
            waves.push(start..end);
            start = end;
        }
        waves
    }

    /// How many configurations (the first ones) configuration `i`'s proposal learns from.
    pub fn learns_from(&self, i: usize) -> usize {
        (i + 1).saturating_sub(self.lag)
    }
}

/// Which early stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoppingMethod {
    /// All configurations start at the first rung.
    SuccessiveHalving,
    /// Brackets of successive halving that start at different rungs (Li et al. 2018), so that
    /// a slow starter is not always stopped at the first rung.
    Hyperband,
    /// Asynchronous successive halving (ASHA, Li et al. 2020) in plan order: a configuration
    /// goes on as soon as it is in the top 1/η of the first entrants of its rung that have
    /// their result, so no worker waits for a rung to fill ([`crate::schedule::asha`]).
    Asha,
    /// Hyperband's brackets, each run by asynchronous successive halving.
    AsyncHyperband,
}

impl StoppingMethod {
    /// The names a grid file uses, with their methods.
    pub const NAMES: [(&'static str, StoppingMethod); 4] = [
        ("successive_halving", StoppingMethod::SuccessiveHalving),
        ("hyperband", StoppingMethod::Hyperband),
        ("asha", StoppingMethod::Asha),
        ("async_hyperband", StoppingMethod::AsyncHyperband),
    ];

    /// Whether rungs are decided asynchronously (promotions as results arrive).
    pub fn is_async(self) -> bool {
        matches!(self, StoppingMethod::Asha | StoppingMethod::AsyncHyperband)
    }

    /// Whether configurations are split into Hyperband's brackets.
    pub fn has_brackets(self) -> bool {
        matches!(
            self,
            StoppingMethod::Hyperband | StoppingMethod::AsyncHyperband
        )
    }

    /// The method's name in a grid file.
    pub fn name(self) -> &'static str {
        StoppingMethod::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }
}

/// `early_stopping`: successive halving (or Hyperband's brackets of it) over rungs at
/// `min_steps`, `min_steps`·η, … up to the trials' `steps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyStopping {
    /// Successive halving, or Hyperband's brackets of it.
    pub method: StoppingMethod,
    /// The first rung.
    pub min_steps: usize,
    /// At each rung, the best 1/η of the configurations go on.
    pub eta: usize,
}

/// Keys of the `early_stopping` section.
const EARLY_STOPPING_KEYS: &[&str] = &["method", "min_steps", "eta"];

impl EarlyStopping {
    /// Reads the `early_stopping` section for trials of `steps` steps evaluated every
    /// `eval_every` steps; errors name the key.
    pub fn parse(value: &Value, steps: usize, eval_every: usize) -> Result<Self, (String, String)> {
        let at = |k: &str| format!("early_stopping.{k}");
        let obj = section("early_stopping", value, EARLY_STOPPING_KEYS)?;
        let expected = "expected \"successive_halving\", \"hyperband\", \"asha\" (asynchronous \
                        successive halving) or \"async_hyperband\"";
        let method = match obj.get("method") {
            Some(Value::String(m)) => match StoppingMethod::NAMES.iter().find(|(n, _)| n == m) {
                Some(&(_, method)) => method,
                None => {
                    let names: Vec<&str> = StoppingMethod::NAMES.iter().map(|n| n.0).collect();
                    let hint = suggest(m, &names)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err((at("method"), format!("{expected}, got \"{m}\"{hint}")));
                }
            },
            Some(v) => return Err((at("method"), format!("{expected}, got {}", describe(v)))),
            None => return Err((at("method"), expected.into())),
        };
        let int = |key: &str, default: Option<u64>| -> Result<u64, (String, String)> {
            match (obj.get(key), default) {
                (Some(v), _) => v
                    .as_u64()
                    .ok_or_else(|| (at(key), format!("expected an integer, got {}", describe(v)))),
                (None, Some(d)) => Ok(d),
                (None, None) => Err((at(key), "required".into())),
            }
        };
        let min_steps = int("min_steps", None)? as usize;
        let eta = int("eta", Some(3))? as usize;
        if eta < 2 {
            return Err((at("eta"), format!("expected an integer ≥ 2, got {eta}")));
        }
        if min_steps == 0 || min_steps >= steps {
            return Err((
                at("min_steps"),
                format!("expected a step count from 1 to below `steps` ({steps}), got {min_steps}"),
            ));
        }
        if !min_steps.is_multiple_of(eval_every) {
            return Err((
                at("min_steps"),
                format!(
                    "expected a multiple of `eval_every` ({eval_every}), so that every rung has a \
                     held-out evaluation, got {min_steps}"
                ),
            ));
        }
        Ok(EarlyStopping {
            method,
            min_steps,
            eta,
        })
    }

    /// The rung steps: `min_steps`·η^k below `steps`, then `steps`.
    pub fn rungs(&self, steps: usize) -> Vec<usize> {
        let mut rungs = Vec::new();
        let mut r = self.min_steps;
        while r < steps {
            rungs.push(r);
            r = r.saturating_mul(self.eta);
        }
        rungs.push(steps);
        rungs
    }

    /// How many of `n` configurations at a rung go on: the best ⌈n/η⌉ (at least one).
    pub fn keep(&self, n: usize) -> usize {
        n.div_ceil(self.eta).max(1)
    }

    /// The brackets for `configs` configurations (in draw order) and `steps`: for each, the
    /// index of the rung it starts at and how many configurations it takes. Successive halving
    /// is one bracket from the first rung. Hyperband has one bracket per rung, the first
    /// starting at the first rung, the last at `steps`; bracket s (counting down from
    /// s_max = rungs − 1) takes ⌈(s_max + 1)/(s + 1) · η^s⌉ configurations, as in Li et al.;
    /// the configurations fill the brackets in that order, again from the first when there are
    /// more.
    pub fn brackets(&self, configs: usize, steps: usize) -> Vec<(usize, usize)> {
        if !self.method.has_brackets() {
            return vec![(0, configs)];
        }
        let s_max = self.rungs(steps).len() - 1;
        let sizes: Vec<usize> = (0..=s_max)
            .rev()
            .map(|s| {
                let n = (s_max + 1) as f64 / (s + 1) as f64 * (self.eta as f64).powi(s as i32);
                n.ceil() as usize
            })
            .collect();
        let mut counts = vec![0usize; sizes.len()];
        let mut left = configs;
        'fill: loop {
            for (i, &size) in sizes.iter().enumerate() {
                let take = size.min(left);
                counts[i] += take;
                left -= take;
                if left == 0 {
                    break 'fill;
                }
            }
        }
        counts
            .into_iter()
            .enumerate()
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// Keys of the `search` section.
const SEARCH_KEYS: &[&str] = &["method", "trials", "seed", "startup", "lag"];

impl Search {
    /// Reads the `search` section; errors name the key (`search.trials`, …).
    pub fn parse(value: &Value) -> Result<Search, (String, String)> {
        let at = |k: &str| format!("search.{k}");
        let obj = section("search", value, SEARCH_KEYS)?;
        let method = match obj.get("method") {
            None => "grid",
            Some(Value::String(m)) if ["grid", "random", "tpe"].contains(&m.as_str()) => m.as_str(),
            Some(v) => {
                return Err((
                    at("method"),
                    format!(
                        "expected \"grid\", \"random\" or \"tpe\", got {}",
                        describe(v)
                    ),
                ))
            }
        };
        let count = |key: &str, min: u64| -> Result<Option<u64>, (String, String)> {
            match obj.get(key) {
                None => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(n) if n >= min => Ok(Some(n)),
                    _ => Err((
                        at(key),
                        format!("expected an integer ≥ {min}, got {}", describe(v)),
                    )),
                },
            }
        };
        let trials = count("trials", 1)?;
        let seed = count("seed", 0)?;
        let startup = count("startup", 1)?;
        let lag = count("lag", 1)?;
        if method != "tpe" {
            if let Some(key) = ["startup", "lag"]
                .into_iter()
                .find(|k| obj.contains_key(*k))
            {
                return Err((
                    at(key),
                    "applies to TPE (`\"method\": \"tpe\"`) only".to_string(),
                ));
            }
        }
        let needs_trials = |what: &str| {
            trials.map(|t| t as usize).ok_or_else(|| {
                (
                    at("trials"),
                    format!("{what} needs the number of configurations to try"),
                )
            })
        };
        match method {
            "random" => Ok(Search::Random {
                trials: needs_trials("random search")?,
                seed: seed.unwrap_or(0),
            }),
            "tpe" => {
                let trials = needs_trials("TPE")?;
                let lag = lag.map_or(Tpe::DEFAULT_LAG, |l| l as usize);
                let (startup, default) = match startup {
                    Some(s) => (s as usize, ""),
                    None => (Tpe::DEFAULT_STARTUP, " (the default)"),
                };
                if startup > trials {
                    return Err((
                        at("startup"),
                        format!(
                            "{startup} random configurations{default} before TPE proposes, but \
                             `trials` is {trials}: expected at most {trials}"
                        ),
                    ));
                }
                if startup < lag {
                    return Err((
                        at("startup"),
                        format!(
                            "expected at least `lag` ({lag}) random configurations, so that \
                             TPE's first proposal learns from at least one result, got {startup}"
                        ),
                    ));
                }
                Ok(Search::Tpe(Tpe {
                    trials,
                    seed: seed.unwrap_or(0),
                    startup,
                    lag,
                }))
            }
            _ => match (trials, seed) {
                (None, None) => Ok(Search::Grid),
                _ => Err((
                    at(if trials.is_some() { "trials" } else { "seed" }),
                    "applies to random search and TPE (`\"method\": \"random\"` or \
                     `\"tpe\"`); a grid runs every combination"
                        .to_string(),
                )),
            },
        }
    }

    /// The configurations to try and the seed of their draws (`None` for a grid).
    pub fn drawn(&self) -> Option<(usize, u64)> {
        match *self {
            Search::Grid => None,
            Search::Random { trials, seed } => Some((trials, seed)),
            Search::Tpe(t) => Some((t.trials, t.seed)),
        }
    }
}

/// The object of the grid-file section `name`, whose keys must be among `keys`; errors name
/// the key (`name.key`) and suggest the closest one.
pub(crate) fn section<'a>(
    name: &str,
    value: &'a Value,
    keys: &[&str],
) -> Result<&'a Map<String, Value>, (String, String)> {
    let obj = value.as_object().ok_or_else(|| {
        (
            name.to_string(),
            format!("expected a JSON object, got {}", describe(value)),
        )
    })?;
    if let Some(key) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        let hint = suggest(key, keys)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err((
            format!("{name}.{key}"),
            format!("unknown key; expected one of: {}{hint}", keys.join(", ")),
        ));
    }
    Ok(obj)
}

/// Draws `trials` distinct configurations: for each, one value per axis in order (a uniform
/// choice from a list, or a draw from a range). A draw equal to an earlier configuration is
/// drawn again; the space must hold `trials` distinct configurations.
pub fn draw(
    axes: &[(String, Domain)],
    trials: usize,
    seed: u64,
) -> Result<Vec<Vec<Value>>, String> {
    check_space(axes, trials)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut drawn: Vec<Vec<Value>> = Vec::with_capacity(trials.min(1 << 16));
    let mut seen: HashSet<String> = HashSet::with_capacity(trials.min(1 << 16));
    let mut attempts = 0usize;
    while drawn.len() < trials {
        attempts += 1;
        if attempts > trials.saturating_mul(1000).saturating_add(1000) {
            return Err(format!(
                "could not draw {trials} distinct configurations (the ranges are too narrow)"
            ));
        }
        let config: Vec<Value> = axes
            .iter()
            .map(|(_, domain)| {
                let u: f64 = rng.random();
                match domain {
                    Domain::List(values) => {
                        values[((u * values.len() as f64) as usize).min(values.len() - 1)].clone()
                    }
                    Domain::Range(range) => range.draw(u),
                }
            })
            .collect();
        if seen.insert(Value::from(config.clone()).to_string()) {
            drawn.push(config);
        }
    }
    Ok(drawn)
}

/// Checks that `axes` hold `trials` distinct configurations.
pub fn check_space(axes: &[(String, Domain)], trials: usize) -> Result<(), String> {
    match finite_size(axes) {
        Some(size) if size < trials => Err(format!(
            "the search asks for {trials} configurations, but the lists hold only {size} \
             distinct ones"
        )),
        _ => Ok(()),
    }
}

/// The number of distinct configurations when every axis is a list or an integer range.
fn finite_size(axes: &[(String, Domain)]) -> Option<usize> {
    axes.iter().try_fold(1usize, |n, (_, d)| {
        let k = match d {
            Domain::List(v) => v.len(),
            Domain::Range(r) if matches!(r.kind, RangeKind::Int | RangeKind::LogInt) => {
                ((r.hi - r.lo) as usize).saturating_add(1)
            }
            Domain::Range(_) => return None,
        };
        Some(n.saturating_mul(k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn range(key: &str, v: Value) -> Result<Range, String> {
        Range::parse(
            key,
            v.as_object().unwrap(),
            &Params::Model(crate::spec::TrainParams::default()),
        )
    }

    #[test]
    fn ranges_are_checked_against_their_parameter() {
        let lr = range("lr", json!({"loguniform": [1e-3, 1e-1]})).unwrap();
        assert_eq!((lr.kind, lr.lo, lr.hi), (RangeKind::LogUniform, 1e-3, 1e-1));
        assert!(range("hidden", json!({"int": [32, 256]})).is_ok());
        let e = |key: &str, v: Value| range(key, v).unwrap_err();
        assert!(e("lr", json!({"loguniform": [0.1, 0.01]})).contains("lo < hi"));
        assert!(e("lr", json!({"loguniform": [0, 0.1]})).contains("> 0"));
        assert!(e("hidden", json!({"int": [1.5, 8]})).contains("integer bounds"));
        let float_on_int = e("hidden", json!({"uniform": [32, 256]}));
        assert!(
            float_on_int.contains("{\"int\": [lo, hi]}"),
            "{float_on_int}"
        );
        let out_of_range = e("dropout", json!({"uniform": [0.1, 1.0]}));
        assert!(out_of_range.contains("hi = 1"), "{out_of_range}");
        assert!(e("cell", json!({"int": [1, 3]})).contains("lo = 1"));
        assert!(e("lr", json!({"logunifrom": [0.1, 1]})).contains("did you mean `loguniform`"));
        assert!(e("lr", json!({"uniform": [0.1]})).contains("two numbers"));
    }

    #[test]
    fn draws_are_the_same_everywhere_and_raising_trials_keeps_the_first() {
        let axes = vec![
            (
                "lr".to_string(),
                Domain::Range(range("lr", json!({"loguniform": [1e-3, 1e-1]})).unwrap()),
            ),
            (
                "hidden".to_string(),
                Domain::Range(range("hidden", json!({"int": [32, 256]})).unwrap()),
            ),
            (
                "cell".to_string(),
                Domain::List(vec![json!("rnn"), json!("gru"), json!("lstm")]),
            ),
        ];
        let ten = draw(&axes, 10, 7).unwrap();
        let twenty = draw(&axes, 20, 7).unwrap();
        assert_eq!(ten[..], twenty[..10]);
        assert_ne!(draw(&axes, 10, 8).unwrap(), ten);
        for config in &twenty {
            let lr = config[0].as_f64().unwrap();
            assert!((1e-3..=1e-1).contains(&lr), "{lr}");
            assert_eq!(lr, round4(lr), "4 significant digits");
            let hidden = config[1].as_u64().unwrap();
            assert!((32..=256).contains(&hidden));
            assert!(["rnn", "gru", "lstm"].contains(&config[2].as_str().unwrap()));
        }
        // The first draws, as every machine draws them (ChaCha8, seed 7).
        let first: Vec<String> = ten[0].iter().map(|v| v.to_string()).collect();
        assert_eq!(
            first,
            draw(&axes, 1, 7).unwrap()[0]
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_space_too_small_for_the_trials_is_an_error() {
        let axes = vec![(
            "cell".to_string(),
            Domain::List(vec![json!("rnn"), json!("gru")]),
        )];
        assert_eq!(draw(&axes, 2, 0).unwrap().len(), 2);
        assert!(draw(&axes, 3, 0).unwrap_err().contains("only 2 distinct"));
        // The widest integer range holds more than any count, not "0 distinct ones".
        let wide = Range {
            kind: RangeKind::Int,
            lo: 0.0,
            hi: u64::MAX as f64,
        };
        assert_eq!(
            check_space(&[("seed".to_string(), Domain::Range(wide))], 1000),
            Ok(())
        );
    }

    #[test]
    fn early_stopping_rungs_and_errors() {
        let es = EarlyStopping::parse(
            &json!({"method": "successive_halving", "min_steps": 100, "eta": 3}),
            900,
            100,
        )
        .unwrap();
        assert_eq!(es.rungs(900), [100, 300, 900]);
        assert_eq!(es.rungs(1000), [100, 300, 900, 1000]);
        assert_eq!(
            (es.keep(27), es.keep(9), es.keep(3), es.keep(2)),
            (9, 3, 1, 1)
        );
        let e = |v: Value| EarlyStopping::parse(&v, 900, 100).unwrap_err();
        assert_eq!(
            e(json!({"method": "successive_halving", "min_steps": 150})).0,
            "early_stopping.min_steps"
        );
        assert_eq!(
            e(json!({"method": "successive_halving", "min_steps": 900})).0,
            "early_stopping.min_steps"
        );
        assert_eq!(
            e(json!({"method": "successive_halving", "min_steps": 100, "eta": 1})).0,
            "early_stopping.eta"
        );
        assert_eq!(e(json!({"min_steps": 100})).0, "early_stopping.method");
        assert!(e(json!({"method": "successive_halving", "min_step": 100}))
            .1
            .contains("did you mean `min_steps`"));
    }

    #[test]
    fn tpe_proposes_lag_at_a_time_each_from_the_configurations_lag_before() {
        let tpe = Tpe {
            trials: 17,
            seed: 0,
            startup: 8,
            lag: 4,
        };
        assert_eq!(tpe.waves(), [0..8, 8..12, 12..16, 16..17]);
        // Configuration 8 learns from 0..=4, 11 from 0..=7: every wave learns from finished
        // waves only.
        assert_eq!((tpe.learns_from(8), tpe.learns_from(11)), (5, 8));
        for wave in tpe.waves().iter().skip(1) {
            assert!(wave.clone().all(|i| tpe.learns_from(i) <= wave.start));
        }
        let sequential = Tpe { lag: 1, ..tpe };
        assert_eq!(
            sequential.learns_from(8),
            8,
            "lag 1: from every earlier one"
        );
    }

    #[test]
    fn a_position_is_the_inverse_of_a_draw() {
        for (key, v) in [
            ("lr", json!({"loguniform": [1e-3, 1e-1]})),
            ("dropout", json!({"uniform": [0.0, 0.5]})),
            ("hidden", json!({"int": [8, 24]})),
            ("hidden", json!({"logint": [8, 512]})),
        ] {
            let r = range(key, v).unwrap();
            for u in [0.0, 0.13, 0.5, 0.77, 0.999] {
                let value = r.draw(u);
                let back = r.draw(r.position(value.as_f64().unwrap()));
                assert_eq!(back, value, "{key} {r:?} at {u}");
            }
        }
    }

    #[test]
    fn rounding_keeps_four_significant_digits() {
        assert_eq!(round4(0.0123456), 0.01235);
        assert_eq!(round4(123456.0), 123500.0);
        assert_eq!(round4(1.0), 1.0);
    }

    #[test]
    fn the_search_section_is_validated() {
        assert_eq!(Search::parse(&json!({})).unwrap(), Search::Grid);
        assert_eq!(
            Search::parse(&json!({"method": "random", "trials": 27, "seed": 3})).unwrap(),
            Search::Random {
                trials: 27,
                seed: 3
            }
        );
        let e = |v: Value| Search::parse(&v).unwrap_err();
        assert_eq!(e(json!({"method": "random"})).0, "search.trials");
        assert_eq!(
            e(json!({"method": "random", "trials": 0})).0,
            "search.trials"
        );
        assert_eq!(e(json!({"method": "bayes"})).0, "search.method");
        assert_eq!(e(json!({"trials": 5})).0, "search.trials");
        assert_eq!(
            Search::parse(&json!({"method": "tpe", "trials": 30})).unwrap(),
            Search::Tpe(Tpe {
                trials: 30,
                seed: 0,
                startup: 10,
                lag: 4
            })
        );
        assert_eq!(
            e(json!({"method": "tpe", "trials": 30, "lag": 0})).0,
            "search.lag"
        );
        assert_eq!(
            e(json!({"method": "tpe", "trials": 5})).0,
            "search.startup",
            "the default startup (10) is more than 5"
        );
        assert_eq!(
            e(json!({"method": "tpe", "trials": 30, "startup": 3})).0,
            "search.startup",
            "fewer than lag (4)"
        );
        assert_eq!(
            e(json!({"method": "random", "trials": 3, "startup": 2})).0,
            "search.startup"
        );
        let typo = e(json!({"method": "random", "trails": 5}));
        assert!(typo.1.contains("did you mean `trials`"), "{typo:?}");
    }
}
