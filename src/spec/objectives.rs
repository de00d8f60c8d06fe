//! Several objectives and constraints: the grid file's `objectives` (a list of metrics and
//! measures, each minimised or maximised) and `constraints` (`"peak_memory_mb <= 4000"`).
//!
//! An objective or constraint names a metric (the built-in model's `heldout_ppl`, or any key
//! of a program's metrics lines) or one of the [`Measure`]s sweep records for every trial.
//! Metrics and the parameter count are reproducible, so searches rank by them; measures of
//! time and memory vary from run to run, so they enter the reports (the front, feasibility)
//! but never a search's decisions, which stay independent of timing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::params::{describe, suggest};
use super::program::{MetricSpec, Mode};

/// What sweep records for every trial besides its metrics, usable as an objective or in a
/// constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Wall time of the trial's worker, in seconds (`wall_seconds`).
    WallSeconds,
    /// Training steps per second (`steps_per_sec`).
    StepsPerSec,
    /// Peak resident memory of the worker, in MiB (`peak_memory_mb`).
    PeakMemory,
    /// The built-in model's trainable parameters (`parameters`).
    Parameters,
    /// Peak GPU memory of a program trial, where NVML measured it (`peak_gpu_memory_mb`).
    PeakGpuMemory,
}

impl Measure {
    /// Every measure, in the order error messages list them.
    pub const ALL: [Measure; 5] = [
        Measure::WallSeconds,
        Measure::StepsPerSec,
        Measure::PeakMemory,
        Measure::Parameters,
        Measure::PeakGpuMemory,
    ];

    /// Its name in grid files and in `trials.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Measure::WallSeconds => "wall_seconds",
            Measure::StepsPerSec => "steps_per_sec",
            Measure::PeakMemory => "peak_memory_mb",
            Measure::Parameters => "parameters",
            Measure::PeakGpuMemory => "peak_gpu_memory_mb",
        }
    }

    /// The measure called `name` (`steps_per_s` is taken for `steps_per_sec`).
    pub fn named(name: &str) -> Option<Measure> {
        if name == "steps_per_s" {
            return Some(Measure::StepsPerSec);
        }
        Measure::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The direction that is better when none is given.
    pub fn natural_mode(self) -> Mode {
        match self {
            Measure::StepsPerSec => Mode::Max,
            _ => Mode::Min,
        }
    }

    /// Whether two runs of the same trial give the same value (the parameter count), so a
    /// search may decide by it.
    pub fn reproducible(self) -> bool {
        self == Measure::Parameters
    }
}

/// `<=`, `>=`, `<` or `>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bound {
    /// At most the limit.
    #[serde(rename = "<=")]
    AtMost,
    /// At least the limit.
    #[serde(rename = ">=")]
    AtLeast,
    /// Below the limit.
    #[serde(rename = "<")]
    Below,
    /// Above the limit.
    #[serde(rename = ">")]
    Above,
}

impl Bound {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Bound::AtMost => "<=",
            Bound::AtLeast => ">=",
            Bound::Below => "<",
            Bound::Above => ">",
        }
    }
}

/// A constraint on one metric or measure: `name op limit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// The metric or measure it limits.
    pub name: String,
    /// How.
    pub bound: Bound,
    /// The limit.
    pub limit: f64,
}

impl Constraint {
    /// How far `value` breaks the constraint, relative to the larger of the limit and the value
    /// (0 when it holds, at most about 1 for values of the limit's sign, so that no constraint
    /// swamps the others; 1 for a missing or non-finite value, which breaks it).
    pub fn violation(&self, value: Option<f64>) -> f64 {
        let Some(x) = value.filter(|x| x.is_finite()) else {
            return 1.0;
        };
        let scale = self.limit.abs().max(x.abs()).max(1e-12);
        let over = match self.bound {
            Bound::AtMost => (x - self.limit).max(0.0),
            Bound::AtLeast => (self.limit - x).max(0.0),
            Bound::Below if x >= self.limit => (x - self.limit).max(scale * 1e-9),
            Bound::Above if x <= self.limit => (self.limit - x).max(scale * 1e-9),
            Bound::Below | Bound::Above => 0.0,
        };
        over / scale
    }

    /// The constraint as written: `peak_memory_mb <= 4000`.
    pub fn text(&self) -> String {
        format!("{} {} {}", self.name, self.bound.symbol(), self.limit)
    }

    /// Parses `"name <= 4000"`.
    fn parse(text: &str) -> Result<Constraint, String> {
        let ops = [
            ("<=", Bound::AtMost),
            (">=", Bound::AtLeast),
            ("<", Bound::Below),
            (">", Bound::Above),
        ];
        let expected =
            "expected \"<name> <= <number>\" (or >=, <, >), e.g. \"peak_memory_mb <= 4000\"";
        let (at, op, bound) = ops
            .iter()
            .filter_map(|&(op, bound)| text.find(op).map(|at| (at, op, bound)))
            .min_by_key(|&(at, op, _)| (at, std::cmp::Reverse(op.len())))
            .ok_or_else(|| format!("{expected}, got {text:?}"))?;
        let name = text[..at].trim();
        let limit = text[at + op.len()..].trim();
        let limit: f64 = limit
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| format!("{expected}; {limit:?} is not a finite number"))?;
        if name.is_empty() {
            return Err(format!("{expected}, got {text:?}"));
        }
        Ok(Constraint {
            name: Measure::named(name).map_or_else(|| name.to_string(), |m| m.name().to_string()),
            bound,
            limit,
        })
    }
}

/// What a sweep optimises: its objectives (the first is the sweep's metric, which curves,
/// single-metric reports and checkpoints follow) and its constraints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    /// At least one.
    pub list: Vec<MetricSpec>,
    /// Possibly none.
    pub constraints: Vec<Constraint>,
}

impl Objectives {
    /// One objective, no constraints: today's sweeps.
    pub fn single(metric: MetricSpec) -> Objectives {
        Objectives {
            list: vec![metric],
            constraints: Vec::new(),
        }
    }

    /// The first objective.
    pub fn primary(&self) -> &MetricSpec {
        &self.list[0]
    }

    /// Whether there is more than one objective or any constraint.
    pub fn is_multi(&self) -> bool {
        self.list.len() > 1 || !self.constraints.is_empty()
    }

    /// The objectives a search ranks by: those that are reproducible (metrics and the
    /// parameter count).
    pub fn searched(&self) -> Objectives {
        Objectives {
            list: self
                .list
                .iter()
                .filter(|m| reproducible(&m.name))
                .cloned()
                .collect(),
            constraints: self
                .constraints
                .iter()
                .filter(|c| reproducible(&c.name))
                .cloned()
                .collect(),
        }
    }

    /// The names of objectives and constraints a search leaves to the reports (measured, not
    /// reproducible), each once.
    pub fn measured(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .list
            .iter()
            .map(|m| m.name.clone())
            .chain(self.constraints.iter().map(|c| c.name.clone()))
            .filter(|n| !reproducible(n))
            .collect();
        names.dedup();
        names.sort();
        names.dedup();
        names
    }
}

/// Whether `name` (a metric or measure) gives the same value on every run of a trial.
pub fn reproducible(name: &str) -> bool {
    Measure::named(name).is_none_or(Measure::reproducible)
}

/// Parses the grid file's `objectives` and `constraints` (either may be absent). `program`
/// says whether the trials run a program (any metric name) or the built-in model
/// (`heldout_ppl`); `metric` is the program's `metric` section, which `objectives` replaces.
/// Errors are `(key, message)`.
pub fn parse(
    objectives: Option<&Value>,
    constraints: Option<&Value>,
    program: bool,
    metric_given: bool,
) -> Result<Option<Objectives>, (String, String)> {
    let err = |key: String, message: String| Err((key, message));
    let list = match objectives {
        None => None,
        Some(_) if metric_given => {
            return err(
                "objectives".into(),
                "a program sweep names its metric once: `objectives` takes the place of \
                 `metric` (its first entry is the metric); keep one"
                    .into(),
            )
        }
        Some(v) => Some(parse_list(v, program)?),
    };
    let constraints = match constraints {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let key = format!("constraints[{i}]");
                let Value::String(text) = item else {
                    return err(
                        key,
                        format!(
                            "expected a string such as \"peak_memory_mb <= 4000\", got {}",
                            describe(item)
                        ),
                    );
                };
                let c = Constraint::parse(text).map_err(|m| (key.clone(), m))?;
                check_name(&c.name, program).map_err(|m| (key.clone(), m))?;
                out.push(c);
            }
            out
        }
        Some(v) => {
            return err(
                "constraints".into(),
                format!(
                    "expected a list of strings such as [\"peak_memory_mb <= 4000\"], got {}",
                    describe(v)
                ),
            )
        }
    };
    if list.is_none() && constraints.is_empty() {
        return Ok(None);
    }
    Ok(Some(Objectives {
        list: list.unwrap_or_default(),
        constraints,
    }))
}

fn parse_list(value: &Value, program: bool) -> Result<Vec<MetricSpec>, (String, String)> {
    let Value::Array(items) = value else {
        return Err((
            "objectives".into(),
            format!(
                "expected a list such as [{{\"name\": \"val_loss\", \"mode\": \"min\"}}, \
                 {{\"name\": \"wall_seconds\", \"mode\": \"min\"}}], got {}",
                describe(value)
            ),
        ));
    };
    if items.is_empty() {
        return Err((
            "objectives".into(),
            "expected at least one objective".into(),
        ));
    }
    if items.len() > 8 {
        return Err((
            "objectives".into(),
            format!("expected at most 8 objectives, got {}", items.len()),
        ));
    }
    let mut list: Vec<MetricSpec> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("objectives[{i}]");
        let (name, mode) = match item {
            Value::String(name) => (name.clone(), None),
            Value::Object(obj) => {
                if let Some(k) = obj.keys().find(|k| !["name", "mode"].contains(&k.as_str())) {
                    let hint = suggest(k, &["name", "mode"])
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err((
                        format!("{key}.{k}"),
                        format!("unknown key; expected name, mode{hint}"),
                    ));
                }
                let name = match obj.get("name") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => {
                        return Err((
                            format!("{key}.name"),
                            format!("expected a metric or measure name, got {}", describe(v)),
                        ))
                    }
                    None => {
                        return Err((
                            format!("{key}.name"),
                            "missing, e.g. \"wall_seconds\"".into(),
                        ))
                    }
                };
                let mode = match obj.get("mode") {
                    None => None,
                    Some(Value::String(s)) if s == "min" => Some(Mode::Min),
                    Some(Value::String(s)) if s == "max" => Some(Mode::Max),
                    Some(v) => {
                        return Err((
                            format!("{key}.mode"),
                            format!("expected \"min\" or \"max\", got {}", describe(v)),
                        ))
                    }
                };
                (name, mode)
            }
            other => {
                return Err((
                    key,
                    format!(
                        "expected {{\"name\": …, \"mode\": \"min\" or \"max\"}} or a name, got {}",
                        describe(other)
                    ),
                ))
            }
        };
        check_name(&name, program).map_err(|m| (format!("{key}.name"), m))?;
        let measure = Measure::named(&name);
        let name = measure.map_or(name, |m| m.name().to_string());
        if i == 0 && measure.is_some() {
            return Err((
                format!("{key}.name"),
                format!(
                    "the first objective is the sweep's metric, which curves, checkpoints and \
                     single-metric reports follow: name {} first, then `{name}`",
                    if program {
                        "a metric the program reports (e.g. \"val_loss\")"
                    } else {
                        "\"heldout_ppl\""
                    }
                ),
            ));
        }
        if !program && name == "heldout_ppl" && mode == Some(Mode::Max) {
            return Err((
                format!("{key}.mode"),
                "held-out perplexity is minimised: leave `mode` out or write \"min\"".into(),
            ));
        }
        if list.iter().any(|m| m.name == name) {
            return Err((format!("{key}.name"), format!("`{name}` is listed twice")));
        }
        let mode = mode.unwrap_or_else(|| measure.map_or(Mode::Min, Measure::natural_mode));
        list.push(MetricSpec { name, mode });
    }
    Ok(list)
}

/// Checks that `name` is something the trials report or sweep records for them.
fn check_name(name: &str, program: bool) -> Result<(), String> {
    let measures: Vec<&str> = Measure::ALL
        .iter()
        .filter(|m| match m {
            Measure::Parameters => !program,
            Measure::PeakGpuMemory => program,
            _ => true,
        })
        .map(|m| m.name())
        .collect();
    match Measure::named(name) {
        Some(Measure::Parameters) if program => Err(
            "`parameters` is the built-in model's parameter count; a program can report its own \
             as a metric"
                .into(),
        ),
        Some(Measure::PeakGpuMemory) if !program => {
            Err("the built-in model trains on the CPU: it has no GPU memory".into())
        }
        Some(_) => Ok(()),
        None if program => {
            if name.trim() != name || name.contains(['<', '>', '=']) {
                Err(format!(
                    "expected a metric name without spaces around it or `<`, `>`, `=` in it, got \
                     {name:?}"
                ))
            } else if name.is_empty() || ["step", "elapsed_s", "checkpoint"].contains(&name) {
                Err(format!(
                    "expected a key of the program's metrics lines (not `step`, `elapsed_s` or \
                     `checkpoint`) or one of {}, got {name:?}",
                    measures.join(", ")
                ))
            } else {
                Ok(())
            }
        }
        None if name == "heldout_ppl" => Ok(()),
        None => {
            let mut known = vec!["heldout_ppl"];
            known.extend(&measures);
            let hint = suggest(name, &known)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            Err(format!(
                "the built-in model's trials have {}; got {name:?}{hint}",
                known.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objectives(v: Value, program: bool) -> Result<Objectives, (String, String)> {
        parse(Some(&v), None, program, false).map(Option::unwrap)
    }

    #[test]
    fn names_take_their_natural_direction_and_aliases_their_csv_name() {
        let o = objectives(
            json!(["heldout_ppl", "wall_seconds", {"name": "steps_per_s"}, "parameters"]),
            false,
        )
        .unwrap();
        let got: Vec<(&str, Mode)> = o.list.iter().map(|m| (m.name.as_str(), m.mode)).collect();
        assert_eq!(
            got,
            [
                ("heldout_ppl", Mode::Min),
                ("wall_seconds", Mode::Min),
                ("steps_per_sec", Mode::Max),
                ("parameters", Mode::Min)
            ]
        );
        assert!(o.is_multi());
        assert_eq!(o.searched().list.len(), 2, "heldout_ppl and parameters");
        assert_eq!(o.measured(), ["steps_per_sec", "wall_seconds"]);
    }

    #[test]
    fn bad_objectives_name_the_entry_and_say_what_is_expected() {
        let cases = [
            (json!([]), false, "objectives", "at least one"),
            (
                json!("wall_seconds"),
                false,
                "objectives",
                "expected a list",
            ),
            (
                json!(["wall_seconds"]),
                false,
                "objectives[0].name",
                "first objective",
            ),
            (json!(["val_loss", "wall_secs"]), true, "", ""),
            (
                json!(["heldout_ppl", "wal_seconds"]),
                false,
                "objectives[1].name",
                "did you mean `wall_seconds`",
            ),
            (
                json!(["heldout_ppl", "heldout_ppl"]),
                false,
                "objectives[1].name",
                "twice",
            ),
            (
                json!([{"name": "heldout_ppl", "mode": "max"}]),
                false,
                "objectives[0].mode",
                "minimised",
            ),
            (
                json!([{"name": "val_loss", "mode": "up"}]),
                true,
                "objectives[0].mode",
                "\"min\" or \"max\"",
            ),
            (
                json!([{"name": "val_loss", "mod": "min"}]),
                true,
                "objectives[0].mod",
                "did you mean `mode`",
            ),
            (
                json!(["val_loss", "parameters"]),
                true,
                "objectives[1].name",
                "built-in model's parameter count",
            ),
            (
                json!(["heldout_ppl", "peak_gpu_memory_mb"]),
                false,
                "objectives[1].name",
                "CPU",
            ),
            (json!(["step"]), true, "objectives[0].name", "not `step`"),
            (json!([3]), true, "objectives[0]", "got 3"),
            (
                json!([" val_loss"]),
                true,
                "objectives[0].name",
                "without spaces",
            ),
        ];
        for (value, program, key, message) in cases {
            let got = objectives(value.clone(), program);
            if key.is_empty() {
                // A program may report any metric: an unknown name is one of its metrics.
                assert!(got.is_ok(), "{value}: {got:?}");
                continue;
            }
            let (k, m) = got.expect_err(&value.to_string());
            assert_eq!(k, key, "{value}: {m}");
            assert!(m.contains(message), "{value}: {m}");
        }
        let both = parse(Some(&json!(["val_loss"])), None, true, true).unwrap_err();
        assert_eq!(both.0, "objectives");
        assert!(both.1.contains("takes the place of `metric`"), "{}", both.1);
    }

    #[test]
    fn constraints_parse_and_measure_how_far_they_are_broken() {
        let o = parse(
            None,
            Some(&json!([
                "peak_memory_mb <= 4000",
                "parameters<1e5",
                "heldout_ppl >= 1"
            ])),
            false,
            false,
        )
        .unwrap()
        .unwrap();
        assert!(o.list.is_empty(), "the objectives come from elsewhere");
        let c = &o.constraints;
        assert_eq!(c[0].bound, Bound::AtMost);
        assert_eq!(c[0].limit, 4000.0);
        assert_eq!(c[1].text(), "parameters < 100000");
        assert_eq!(c[2].bound, Bound::AtLeast);
        assert_eq!(c[0].violation(Some(3000.0)), 0.0);
        assert_eq!(c[0].violation(Some(4000.0)), 0.0);
        assert!((c[0].violation(Some(5000.0)) - 0.2).abs() < 1e-12);
        // A limit of 0 does not make a small overshoot enormous.
        let zero = Constraint {
            name: "gap".into(),
            bound: Bound::AtMost,
            limit: 0.0,
        };
        assert_eq!(zero.violation(Some(0.01)), 1.0);
        assert!(c[1].violation(Some(100000.0)) > 0.0, "< excludes the limit");
        assert_eq!(c[2].violation(None), 1.0, "no value breaks it");
        assert_eq!(c[2].violation(Some(f64::NAN)), 1.0);
        assert_eq!(o.searched().constraints.len(), 2, "memory is measured");

        for (value, message) in [
            (json!("parameters <= 5"), "expected a list of strings"),
            (json!([5]), "expected a string"),
            (json!(["parameters = 5"]), "expected \"<name> <= <number>\""),
            (json!(["parameters <= lots"]), "not a finite number"),
            (json!(["<= 5"]), "expected \"<name>"),
            (json!(["parameter <= 5"]), "did you mean `parameters`"),
        ] {
            let (key, m) = parse(None, Some(&value), false, false).unwrap_err();
            assert!(key.starts_with("constraints"), "{value}: {key}");
            assert!(m.contains(message), "{value}: {m}");
        }
        // A program's metric may be any name, but not one a misspelt operator left behind.
        let value = json!(["val_loss =< 2"]);
        let (key, m) = parse(None, Some(&value), true, false).unwrap_err();
        assert_eq!(key, "constraints[0]");
        assert!(m.contains("`<`, `>`, `=`"), "{m}");
    }
}
