//! A user's training program as the thing a sweep trains: the grid file's `program` and
//! `metric` sections, the free-form parameters such trials have, and the command line each
//! trial runs (its `{name}` placeholders filled in).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::params::{describe, display_value, int_in, suggest, ParamError};

/// Whether the objective metric is minimised or maximised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lower is better (a loss, a perplexity).
    Min,
    /// Higher is better (an accuracy, a reward).
    Max,
}

impl Mode {
    /// `x` as a sort key where lower is always better: `x` for `min`, `−x` for `max`.
    pub fn key(self, x: f64) -> f64 {
        match self {
            Mode::Min => x,
            Mode::Max => -x,
        }
    }

    /// The name used in grid files.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Min => "min",
            Mode::Max => "max",
        }
    }
}

/// The metric a sweep optimises: its name in the metrics lines and its direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// The key in the program's metrics lines, e.g. `val_loss`.
    pub name: String,
    /// Minimised or maximised.
    pub mode: Mode,
}

impl MetricSpec {
    /// The built-in model's objective: held-out perplexity, minimised.
    pub fn builtin() -> MetricSpec {
        MetricSpec {
            name: "heldout_ppl".into(),
            mode: Mode::Min,
        }
    }

    /// Whether this is the built-in model's objective.
    pub fn is_builtin(&self) -> bool {
        *self == MetricSpec::builtin()
    }
}

/// How a program trial runs: the command and its environment, as a worker reads it from
/// `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramRef {
    /// The command as written, `{name}` placeholders unexpanded.
    pub command: Vec<String>,
    /// The working folder as written (relative to the grid file).
    pub workdir: String,
    /// The working folder, absolute (not part of the id).
    pub workdir_abs: PathBuf,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The objective metric.
    pub metric: MetricSpec,
    /// Seconds between SIGTERM and SIGKILL when the trial is stopped (not part of the id).
    pub stop_grace_s: f64,
}

impl ProgramRef {
    /// The command line of a trial with parameters `params`: every `{name}` replaced by the
    /// parameter's value as labels write it, `{{` and `}}` by braces.
    pub fn argv(&self, params: &ProgramParams) -> Vec<String> {
        self.command
            .iter()
            .map(|item| {
                expand(item, |name| params.get(name).map(|v| display_value(&v)))
                    .expect("placeholders were checked when the grid file was read")
            })
            .collect()
    }

    /// The command as people read it (shell-like, for reports).
    pub fn display(&self) -> String {
        self.command.join(" ")
    }
}

/// The parameters of a program trial: free-form names, each a number, string or boolean,
/// always with `steps` (the budget) and `seed`. A `BTreeMap`, so the JSON (and the id) does
/// not depend on the order of the grid file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramParams(BTreeMap<String, Value>);

impl Default for ProgramParams {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        values.insert("steps".to_string(), Value::from(1000));
        values.insert("seed".to_string(), Value::from(0));
        ProgramParams(values)
    }
}

impl ProgramParams {
    /// Assigns `value` to `key`: `steps` and `seed` must be integers, other names take any
    /// number, string or boolean.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), ParamError> {
        let value = match key {
            "steps" => Value::from(int_in(value, 1..=100_000_000)?),
            "seed" => Value::from(int_in(value, 0..=u64::MAX)?),
            _ => match value {
                Value::Number(_) | Value::String(_) | Value::Bool(_) => value.clone(),
                _ => {
                    return Err(ParamError::Invalid {
                        expected: "a number, a string or a boolean".into(),
                        got: describe(value),
                    })
                }
            },
        };
        self.0.insert(key.to_string(), value);
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key).cloned()
    }

    /// The parameter names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The step budget.
    pub fn steps(&self) -> usize {
        self.0["steps"].as_u64().expect("steps is checked") as usize
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.0["seed"].as_u64().expect("seed is checked")
    }

    /// The parameters as a JSON object (what `SWEEP_PARAMS` holds).
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// Reads stored parameters back, checking `steps` and `seed`.
    pub fn from_json(value: &Value) -> Result<ProgramParams, String> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("expected an object, got {}", describe(value)))?;
        let mut params = ProgramParams(BTreeMap::new());
        for key in ["steps", "seed"] {
            if !obj.contains_key(key) {
                return Err(format!("`{key}` is missing"));
            }
        }
        for (key, v) in obj {
            params.set(key, v).map_err(|e| format!("`{key}`: {e}"))?;
        }
        Ok(params)
    }
}

/// Keys of the grid file's `program` section.
const PROGRAM_KEYS: &[&str] = &["command", "workdir", "env", "stop_grace_s"];

/// Reads the `program` section (`workdir` is resolved against `grid_dir` and must exist)
/// and the `metric` section. Errors are `(key, message)`.
pub fn parse(
    program: &Value,
    metric: Option<&Value>,
    grid_dir: &Path,
) -> Result<ProgramRef, (String, String)> {
    let obj = section("program", program, PROGRAM_KEYS)?;
    let command = match obj.get("command") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) if s.contains('\0') => Err((
                    format!("program.command[{i}]"),
                    "contains a NUL byte, which no command line can hold".into(),
                )),
                Value::String(s) if !(i == 0 && s.is_empty()) => Ok(s.clone()),
                other => Err((
                    format!("program.command[{i}]"),
                    format!("expected a non-empty string, got {}", describe(other)),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err((
                "program.command".into(),
                format!(
                    "expected a non-empty list of strings (the program and its arguments), got {}",
                    describe(other)
                ),
            ))
        }
        None => {
            return Err((
                "program.command".into(),
                "missing: the program and its arguments, e.g. [\"python3\", \"train.py\", \
                 \"--lr\", \"{lr}\"]"
                    .into(),
            ))
        }
    };
    let workdir = match obj.get("workdir") {
        None => ".".to_string(),
        Some(Value::String(s)) if s.len() > 4096 || s.contains('\0') => {
            return Err((
                "program.workdir".into(),
                format!(
                    "expected a folder path of at most 4096 bytes without NUL, got a string of \
                     {} bytes",
                    s.len()
                ),
            ))
        }
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(other) => {
            return Err((
                "program.workdir".into(),
                format!("expected a folder path, got {}", describe(other)),
            ))
        }
    };
    let joined = grid_dir.join(&workdir);
    let workdir_abs = match joined.canonicalize() {
        Ok(path) if path.is_dir() => path,
        _ => {
            return Err((
                "program.workdir".into(),
                format!(
                    "{} is not a folder (a relative workdir is read from the grid file's folder)",
                    std::path::absolute(&joined).unwrap_or(joined).display()
                ),
            ))
        }
    };
    let mut env = BTreeMap::new();
    if let Some(v) = obj.get("env") {
        let vars = v.as_object().ok_or_else(|| {
            (
                "program.env".to_string(),
                format!("expected an object of strings, got {}", describe(v)),
            )
        })?;
        for (name, value) in vars {
            let at = format!("program.env.{name}");
            if name.is_empty() || name.contains(['=', '\0']) || name.starts_with("SWEEP_") {
                return Err((
                    at,
                    "expected a variable name without `=` or NUL (SWEEP_* names are set by sweep)"
                        .into(),
                ));
            }
            match value {
                Value::String(s) if s.contains('\0') => {
                    return Err((
                        at,
                        "contains a NUL byte, which no environment can hold".into(),
                    ))
                }
                Value::String(s) => env.insert(name.clone(), s.clone()),
                other => return Err((at, format!("expected a string, got {}", describe(other)))),
            };
        }
    }
    let stop_grace_s = match obj.get("stop_grace_s") {
        None => 30.0,
        Some(v) => match v.as_f64() {
            Some(s) if (0.0..=3600.0).contains(&s) => s,
            _ => {
                return Err((
                    "program.stop_grace_s".into(),
                    format!("expected seconds from 0 to 3600, got {}", describe(v)),
                ))
            }
        },
    };
    let metric = parse_metric(metric.ok_or_else(|| {
        (
            "metric".to_string(),
            "missing: a program sweep names the metric it optimises, e.g. \
             {\"name\": \"val_loss\", \"mode\": \"min\"}"
                .to_string(),
        )
    })?)?;
    Ok(ProgramRef {
        command,
        workdir,
        workdir_abs,
        env,
        metric,
        stop_grace_s,
    })
}

fn parse_metric(value: &Value) -> Result<MetricSpec, (String, String)> {
    let obj = section("metric", value, &["name", "mode"])?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if valid_metric_name(s) => s.clone(),
        Some(other) => {
            return Err((
                "metric.name".into(),
                format!(
                    "expected a metric key of the program's metrics lines (not `step`, \
                     `elapsed_s` or `checkpoint`), got {}",
                    describe(other)
                ),
            ))
        }
        None => return Err(("metric.name".into(), "missing, e.g. \"val_loss\"".into())),
    };
    let mode = match obj.get("mode") {
        None => Mode::Min,
        Some(Value::String(s)) if s == "min" => Mode::Min,
        Some(Value::String(s)) if s == "max" => Mode::Max,
        Some(other) => {
            return Err((
                "metric.mode".into(),
                format!("expected \"min\" or \"max\", got {}", describe(other)),
            ))
        }
    };
    Ok(MetricSpec { name, mode })
}

fn valid_metric_name(name: &str) -> bool {
    !name.trim().is_empty() && !["step", "elapsed_s", "checkpoint"].contains(&name)
}

/// Checks that every placeholder of the command names a parameter in `known`. Errors are
/// `(key, message)`.
pub fn check_placeholders(command: &[String], known: &[String]) -> Result<(), (String, String)> {
    for (i, item) in command.iter().enumerate() {
        expand(item, |name| {
            known.iter().any(|k| k == name).then(String::new)
        })
        .map_err(|problem| {
            let message = match problem {
                Placeholder::Unknown(name) => {
                    let names: Vec<&str> = known.iter().map(String::as_str).collect();
                    let hint = suggest(&name, &names)
                        .map(|s| format!(" (did you mean `{{{s}}}`?)"))
                        .unwrap_or_default();
                    format!(
                        "unknown placeholder `{{{name}}}`{hint}; the parameters are: {} \
                         (write `{{{{` and `}}}}` for literal braces)",
                        names.join(", ")
                    )
                }
                Placeholder::Unclosed => {
                    "an unclosed `{`: write `{name}` for a parameter, `{{` for a brace".into()
                }
                Placeholder::Unopened => {
                    "a `}` without its `{`: write `{name}` for a parameter, `}}` for a brace".into()
                }
            };
            (format!("program.command[{i}]"), message)
        })?;
    }
    Ok(())
}

#[derive(Debug)]
enum Placeholder {
    Unknown(String),
    Unclosed,
    /// A `}` with no `{` before it (write `}}` for a brace).
    Unopened,
}

/// `text` with `{name}` replaced by `lookup(name)`, `{{`/`}}` by single braces.
fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Placeholder> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let brace = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        if rest.as_bytes().first() == Some(&brace) {
            out.push(brace as char);
            rest = &rest[1..];
        } else if brace == b'}' {
            return Err(Placeholder::Unopened);
        } else {
            let end = rest.find('}').ok_or(Placeholder::Unclosed)?;
            let name = &rest[..end];
            out.push_str(&lookup(name).ok_or_else(|| Placeholder::Unknown(name.to_string()))?);
            rest = &rest[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn section<'a>(
    name: &str,
    value: &'a Value,
    keys: &[&str],
) -> Result<&'a Map<String, Value>, (String, String)> {
    super::search::section(name, value, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, Value)]) -> ProgramParams {
        let mut p = ProgramParams::default();
        for (k, v) in pairs {
            p.set(k, v).unwrap();
        }
        p
    }

    #[test]
    fn placeholders_expand_with_escapes() {
        let program = ProgramRef {
            command: vec![
                "train.py".into(),
                "--lr={lr}".into(),
                "{{literal}}".into(),
                "{steps}".into(),
            ],
            workdir: ".".into(),
            workdir_abs: ".".into(),
            env: BTreeMap::new(),
            metric: MetricSpec::builtin(),
            stop_grace_s: 1.0,
        };
        let p = params(&[("lr", Value::from(0.01))]);
        assert_eq!(
            program.argv(&p),
            ["train.py", "--lr=0.01", "{literal}", "1000"]
        );
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_named() {
        let known = vec!["lr".to_string(), "steps".into(), "seed".into()];
        let (key, message) =
            check_placeholders(&["x".into(), "--lr={lrr}".into()], &known).unwrap_err();
        assert_eq!(key, "program.command[1]");
        assert!(
            message.contains("`{lrr}`") && message.contains("did you mean `{lr}`"),
            "{message}"
        );
        let (_, message) = check_placeholders(&["x}".into()], &known).unwrap_err();
        assert!(message.contains("a `}` without its `{`"), "{message}");
        let (_, message) = check_placeholders(&["{lr".into()], &known).unwrap_err();
        assert!(message.contains("unclosed"), "{message}");
        check_placeholders(&["{{x}}".into(), "{seed}".into()], &known).unwrap();
    }

    #[test]
    fn program_params_type_steps_and_seed() {
        let mut p = ProgramParams::default();
        assert!(p.set("steps", &Value::from(0)).is_err());
        assert!(p.set("seed", &Value::from(-1)).is_err());
        assert!(p.set("layers", &serde_json::json!([1, 2])).is_err());
        p.set("opt", &Value::from("adam")).unwrap();
        let back = ProgramParams::from_json(&p.to_json()).unwrap();
        assert_eq!(back, p);
        assert!(ProgramParams::from_json(&serde_json::json!({"seed": 0})).is_err());
    }

    #[test]
    fn max_mode_keys_reverse_the_order() {
        assert!(Mode::Max.key(0.9) < Mode::Max.key(0.5));
        assert!(Mode::Min.key(0.5) < Mode::Min.key(0.9));
    }
}
