//! Reads a grid file (JSON) into a validated [`GridSpec`].
//!
//! Validation is strict: unknown keys, wrong types, empty or duplicated axis values are errors
//! that name the file and the key and say what was expected. Nothing is trained before the whole
//! file is known to be good.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::objectives::{self, Objectives};
use super::params::{describe, suggest, ParamError, RunOptions, TrainParams};
use super::program::{self, ProgramParams, ProgramRef};
use super::resources::Resources;
use super::search::{Domain, EarlyStopping, Range, Search};
use super::slurm::SlurmOptions;
use super::trial_params::Params;
use crate::data::CorpusSource;

/// Keys allowed at the top level of a grid file.
const TOP_KEYS: &[&str] = &[
    "name",
    "corpus",
    "base",
    "grid",
    "seeds",
    "checkpoint_every",
    "max_retries",
    "slurm",
    "search",
    "early_stopping",
    "program",
    "metric",
    "objectives",
    "constraints",
    "resources",
];

/// A validated grid file.
#[derive(Debug, Clone)]
pub struct GridSpec {
    /// Where it was read from.
    pub path: PathBuf,
    /// The sweep's name (defaults to the file stem).
    pub name: String,
    /// The corpus every trial trains on (the built-in model's; unused with a program).
    pub corpus: CorpusSource,
    /// The user's program every trial runs, instead of the built-in model.
    pub program: Option<ProgramRef>,
    /// Parameters shared by all trials.
    pub base: Params,
    /// Swept parameters with their values, in file order; seeds last.
    pub axes: Vec<Axis>,
    /// How trials are run; does not change their results, so not part of trial ids.
    pub run: RunOptions,
    /// How trials are submitted with `--executor slurm`.
    pub slurm: SlurmOptions,
    /// What each trial needs: its share of the GPUs, its CPUs.
    pub resources: Resources,
    /// How configurations are chosen: every combination, or random draws.
    pub search: Search,
    /// Successive halving over rungs, when asked for.
    pub early_stopping: Option<EarlyStopping>,
    /// What the sweep optimises: one objective (the program's metric or `heldout_ppl`), or
    /// several, with constraints.
    pub objectives: Objectives,
}

/// One swept parameter and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Parameter name (one of [`super::params::PARAM_KEYS`], or free-form for a program).
    pub key: String,
    /// Its values (each checked against the parameter's type and range), or a range of them.
    pub domain: Domain,
}

impl Axis {
    /// The listed values; none for a range.
    pub fn values(&self) -> &[Value] {
        match &self.domain {
            Domain::List(values) => values,
            Domain::Range(_) => &[],
        }
    }

    /// Whether the axis is a range (drawn by a search).
    pub fn is_range(&self) -> bool {
        matches!(self.domain, Domain::Range(_))
    }
}

/// A problem with a grid file.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read; the reason is the source, not repeated in the message.
    #[error("cannot read grid file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A key is unknown or its value is invalid.
    #[error("{path}: `{}`: {}", shorten(key, 80), shorten(message, 500))]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// A key or message as an error shows it: one of thousands of characters (a value quoted
/// from the file) is cut after `max` characters, not echoed whole.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

impl GridSpec {
    /// The metric the sweep's trials are ranked by: its program's, or the built-in model's
    /// held-out perplexity.
    pub fn objective(&self) -> super::program::MetricSpec {
        self.program
            .as_ref()
            .map_or_else(super::program::MetricSpec::builtin, |p| p.metric.clone())
    }

    /// Reads and validates the grid file at `path`.
    pub fn load(path: &Path) -> Result<GridSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        GridSpec::parse(path, &text)
    }

    /// Validates grid-file `text`; `path` names it in errors and anchors a relative corpus path.
    pub fn parse(path: &Path, text: &str) -> Result<GridSpec, SpecError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SpecError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        let invalid = |key: &str, message: String| SpecError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let top = value.as_object().ok_or_else(|| {
            invalid(
                "(top level)",
                format!("expected a JSON object, got {}", describe(&value)),
            )
        })?;
        for key in top.keys() {
            if !TOP_KEYS.contains(&key.as_str()) {
                let hint = suggest(key, TOP_KEYS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(invalid(
                    key,
                    format!(
                        "unknown key; expected one of: {}{hint}",
                        TOP_KEYS.join(", ")
                    ),
                ));
            }
        }

        let name = match top.get("name") {
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".into()),
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(v) => {
                return Err(invalid(
                    "name",
                    format!("expected a non-empty string, got {}", describe(v)),
                ))
            }
        };

        let corpus = match top.get("corpus") {
            None => CorpusSource::default(),
            Some(Value::String(s)) if s.len() > 4096 || s.contains('\0') => {
                return Err(invalid(
                    "corpus",
                    format!(
                        "expected a path of at most 4096 bytes without NUL, got a string of {} \
                         bytes",
                        s.len()
                    ),
                ))
            }
            Some(Value::String(s)) if !s.is_empty() => {
                let base_dir = path.parent().unwrap_or(Path::new("."));
                CorpusSource::from_name_or_path(s, base_dir)
            }
            Some(v) => {
                return Err(invalid(
                    "corpus",
                    format!(
                        "expected \"timemachine\" or a path to a UTF-8 text file, got {}",
                        describe(v)
                    ),
                ))
            }
        };

        let parsed_objectives = objectives::parse(
            top.get("objectives"),
            top.get("constraints"),
            top.contains_key("program"),
            top.contains_key("metric"),
        )
        .map_err(|(key, m)| invalid(&key, m))?;
        let program = match top.get("program") {
            Some(v) => {
                for key in ["corpus", "checkpoint_every"] {
                    if top.contains_key(key) {
                        return Err(invalid(
                            key,
                            "applies to the built-in model only: a program reads its own data \
                             and saves its own checkpoints (see `program`)"
                                .into(),
                        ));
                    }
                }
                let grid_dir = path.parent().unwrap_or(Path::new("."));
                let grid_dir = if grid_dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    grid_dir
                };
                let first = parsed_objectives
                    .as_ref()
                    .and_then(|o| o.list.first())
                    .map(|m| serde_json::json!({"name": m.name, "mode": m.mode.name()}));
                Some(
                    program::parse(v, first.as_ref().or(top.get("metric")), grid_dir)
                        .map_err(|(key, m)| invalid(&key, m))?,
                )
            }
            None => {
                if top.contains_key("metric") {
                    return Err(invalid(
                        "metric",
                        "the built-in model's metric is held-out perplexity; `metric` names a \
                         `program`'s metric"
                            .into(),
                    ));
                }
                None
            }
        };

        let mut base = match program {
            Some(_) => Params::Program(ProgramParams::default()),
            None => Params::Model(TrainParams::default()),
        };
        if let Some(v) = top.get("base") {
            let obj = object(v).map_err(|m| invalid("base", m))?;
            for (key, value) in obj {
                base.set(key, value)
                    .map_err(|e| invalid(&format!("base.{key}"), e.to_string()))?;
            }
        }

        let search = match top.get("search") {
            Some(v) => Search::parse(v).map_err(|(key, m)| invalid(&key, m))?,
            None => Search::Grid,
        };

        let mut axes = Vec::new();
        if let Some(v) = top.get("grid") {
            let obj = object(v).map_err(|m| invalid("grid", m))?;
            for (key, values) in obj {
                let at = format!("grid.{key}");
                let domain = match values {
                    Value::Object(range) => {
                        if key == "seed" {
                            return Err(invalid(&at, "seeds are a list, not a range".into()));
                        }
                        let range = Range::parse(key, range, &base).map_err(|m| invalid(&at, m))?;
                        if search == Search::Grid {
                            return Err(invalid(
                                &at,
                                "a range needs a search that draws from it: add \
                                 `\"search\": {\"method\": \"random\", \"trials\": N}`, or \
                                 give a list of values"
                                    .into(),
                            ));
                        }
                        Domain::Range(range)
                    }
                    values => {
                        Domain::List(axis_values(&base, key, values).map_err(|m| invalid(&at, m))?)
                    }
                };
                axes.push(Axis {
                    key: key.clone(),
                    domain,
                });
            }
        }

        if let Some(v) = top.get("seeds") {
            if axes.iter().any(|a| a.key == "seed") {
                return Err(invalid(
                    "seeds",
                    "seeds are given twice, as `seeds` and as `grid.seed`: keep one".into(),
                ));
            }
            let values = axis_values(&base, "seed", v).map_err(|m| invalid("seeds", m))?;
            axes.push(Axis {
                key: "seed".into(),
                domain: Domain::List(values),
            });
        }

        let mut run = RunOptions::default();
        for key in ["checkpoint_every", "max_retries"] {
            if let Some(v) = top.get(key) {
                run.set(key, v).map_err(|e| invalid(key, e.to_string()))?;
            }
        }

        let early_stopping = match top.get("early_stopping") {
            None => None,
            Some(v) => {
                for key in ["steps", "eval_every"] {
                    if axes.iter().any(|a| a.key == key) {
                        return Err(invalid(
                            &format!("grid.{key}"),
                            "early stopping needs one `steps` and `eval_every` for every trial \
                             (set them in `base`)"
                                .into(),
                        ));
                    }
                }
                // A program evaluates when it likes: rungs are read at the last report.
                let eval_every = base.model().map_or(1, |p| p.eval_every);
                Some(
                    EarlyStopping::parse(v, base.steps(), eval_every)
                        .map_err(|(key, m)| invalid(&key, m))?,
                )
            }
        };

        let mut slurm = match top.get("slurm") {
            Some(v) => SlurmOptions::from_json(v).map_err(|(key, m)| invalid(&key, m))?,
            None => SlurmOptions::default(),
        };

        let resources = match top.get("resources") {
            Some(v) => Resources::from_json(v).map_err(|(key, m)| invalid(&key, m))?,
            None => Resources::default(),
        };
        if resources.gpus.is_some() && program.is_none() {
            return Err(invalid(
                "resources.gpus",
                "the built-in model trains on the CPU: GPUs are for a `program`'s trials".into(),
            ));
        }
        if let Some(cpus) = resources.cpus {
            if top
                .get("slurm")
                .is_some_and(|s| s.get("cpus_per_task").is_some())
            {
                return Err(invalid(
                    "resources.cpus",
                    "the CPUs of a trial are given twice, here and as `slurm.cpus_per_task`: \
                     keep one"
                        .into(),
                ));
            }
            slurm.cpus_per_task = cpus;
        }

        if let Some(program) = &program {
            let mut known = base.keys();
            known.extend(axes.iter().map(|a| a.key.clone()));
            known.sort();
            known.dedup();
            program::check_placeholders(&program.command, &known)
                .map_err(|(key, m)| invalid(&key, m))?;
        }

        let metric = program
            .as_ref()
            .map_or_else(super::program::MetricSpec::builtin, |p| p.metric.clone());
        let objectives = match parsed_objectives {
            Some(mut o) => {
                if o.list.is_empty() {
                    o.list.push(metric);
                }
                o
            }
            None => Objectives::single(metric),
        };

        Ok(GridSpec {
            path: path.to_path_buf(),
            name,
            corpus,
            program,
            base,
            axes,
            run,
            slurm,
            resources,
            search,
            early_stopping,
            objectives,
        })
    }

    /// The values of the seed axis, or the base seed when seeds are not swept.
    pub fn seeds(&self) -> Vec<u64> {
        self.axes
            .iter()
            .find(|a| a.key == "seed")
            .map(|a| a.values().iter().filter_map(Value::as_u64).collect())
            .unwrap_or_else(|| vec![self.base.seed()])
    }
}

fn object(value: &Value) -> Result<&Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {}", describe(value)))
}

/// Checks one axis: a non-empty list of distinct values valid for parameter `key` of
/// parameters like `base`.
fn axis_values(base: &Params, key: &str, values: &Value) -> Result<Vec<Value>, String> {
    let list = values.as_array().ok_or_else(|| {
        format!(
            "expected a non-empty list of values, got {}",
            describe(values)
        )
    })?;
    if list.is_empty() {
        return Err("expected a non-empty list of values, got []".into());
    }
    let mut probe = base.clone();
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        probe.set(key, value).map_err(|e| match e {
            ParamError::Unknown { .. } => e.to_string(),
            ParamError::Invalid { .. } => format!("item {i}: {e}"),
        })?;
        // Numbers are the same value however written: 1 and 1.0, 0 and -0.0.
        let same = match value.as_f64() {
            Some(x) if value.is_number() => format!("{}", x + 0.0),
            _ => value.to_string(),
        };
        if !seen.insert(same) {
            return Err(format!("duplicate value {}", describe(value)));
        }
    }
    Ok(list.clone())
}

/// serde_json appends " at line L column C"; the error prefix already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GridSpec, SpecError> {
        GridSpec::parse(Path::new("sweeps/test.json"), text)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_documented_shape() {
        let spec = parse(
            r#"{ "name": "hidden-x-batch", "corpus": "timemachine",
                 "base": { "cell": "rnn", "hidden": 128, "batch_size": 32, "seq_len": 35,
                           "lr": 0.01, "steps": 1000, "eval_every": 100, "seed": 0 },
                 "grid": { "hidden": [128, 200, 300], "batch_size": [16, 32, 64] },
                 "seeds": [0, 1] }"#,
        )
        .unwrap();
        assert_eq!(spec.name, "hidden-x-batch");
        assert_eq!(spec.corpus, CorpusSource::default());
        assert_eq!(
            spec.axes.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(),
            ["hidden", "batch_size", "seed"]
        );
        assert_eq!(spec.seeds(), [0, 1]);
    }

    #[test]
    fn defaults_fill_everything_not_given() {
        let spec = parse("{}").unwrap();
        assert_eq!(spec.name, "test");
        assert_eq!(spec.base, Params::Model(TrainParams::default()));
        assert!(spec.axes.is_empty());
        assert_eq!(spec.seeds(), [0]);
        assert_eq!(spec.run, RunOptions::default());
    }

    #[test]
    fn run_options_are_read_from_the_top_level() {
        let spec = parse(r#"{"checkpoint_every": 25, "max_retries": 3}"#).unwrap();
        assert_eq!(
            spec.run,
            RunOptions {
                checkpoint_every: 25,
                max_retries: 3,
                budget: None,
            }
        );
    }

    #[test]
    fn relative_corpus_paths_are_relative_to_the_grid_file() {
        let spec = parse(r#"{"corpus": "texts/a.txt"}"#).unwrap();
        assert_eq!(
            spec.corpus,
            CorpusSource::File(PathBuf::from("sweeps/texts/a.txt"))
        );
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let msg = error("{\n  \"base\": { \"hidden\": 128,, }\n}");
        assert!(msg.starts_with("sweeps/test.json:2:"), "{msg}");
        assert!(msg.contains("invalid JSON"), "{msg}");
    }

    #[test]
    fn errors_name_the_key_and_what_was_expected() {
        let cases = [
            (r#"{"grid": {"hidden": []}}"#, "`grid.hidden`: expected a non-empty list"),
            (r#"{"grid": {"hidden": 128}}"#, "`grid.hidden`: expected a non-empty list"),
            (r#"{"base": {"hidden": 0}}"#, "`base.hidden`: expected an integer from 1"),
            (r#"{"grid": {"hidden": [64, 0]}}"#, "`grid.hidden`: item 1: expected an integer"),
            (r#"{"grid": {"lr": [0.1, 0.1]}}"#, "`grid.lr`: duplicate value 0.1"),
            (r#"{"grid": {"lr": [1, 1.0]}}"#, "`grid.lr`: duplicate value 1.0"),
            (r#"{"grid": {"dropout": [0, -0.0]}}"#, "`grid.dropout`: duplicate value -0.0"),
            (r#"{"grid": {"hiden": [1]}}"#, "`grid.hiden`: unknown parameter"),
            (r#"{"base": {"hiden": 1}}"#, "did you mean `hidden`?"),
            (r#"{"seed": [0, 1]}"#, "`seed`: unknown key; expected one of: name, corpus, base, grid, seeds, checkpoint_every, max_retries, slurm, search, early_stopping, program, metric, objectives, constraints, resources (did you mean `seeds`?)"),
            (r#"{"checkpoint_every": 0}"#, "`checkpoint_every`: expected an integer from 1"),
            (r#"{"max_retries": -1}"#, "`max_retries`: expected an integer from 0 to 100"),
            (r#"{"seeds": []}"#, "`seeds`: expected a non-empty list"),
            (r#"{"seeds": [1], "grid": {"seed": [2]}}"#, "seeds are given twice"),
            (r#"{"corpus": 3}"#, "`corpus`: expected \"timemachine\" or a path"),
            (r#"{"name": ""}"#, "`name`: expected a non-empty string"),
            (r#"[1, 2]"#, "expected a JSON object"),
            (r#"{"base": {"cell": "lstn"}}"#, "`base.cell`: expected \"rnn\", \"gru\" or \"lstm\", got \"lstn\""),
        ];
        for (text, expected) in cases {
            let msg = error(text);
            assert!(msg.starts_with("sweeps/test.json: "), "{msg}");
            assert!(
                msg.contains(expected),
                "{text}\n  gave: {msg}\n  want: {expected}"
            );
        }
        // A key of a million characters is named, not echoed whole.
        let msg = error(&format!("{{\"{}\": 1}}", "k".repeat(1_000_000)));
        assert!(msg.len() < 1000, "{} bytes", msg.len());
        assert!(msg.contains("… (1000000 bytes)`: unknown key"), "{msg}");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let msg = GridSpec::load(Path::new("/nonexistent/grid.json"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("cannot read grid file /nonexistent/grid.json"),
            "{msg}"
        );
    }
}
