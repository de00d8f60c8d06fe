//! The training parameters of one trial and how each one is read and checked from JSON.
//!
//! Every parameter can appear in `base` and as a `grid` axis; this file is the one place that
//! knows their names, types, defaults and valid ranges, and its table [`PARAMS`] the one place
//! that lists them.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The recurrent cell of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// A tanh RNN (`torch.nn.RNN`).
    Rnn,
    /// A gated recurrent unit (`torch.nn.GRU`).
    Gru,
    /// A long short-term memory (`torch.nn.LSTM`).
    Lstm,
}

impl Cell {
    /// Every cell.
    pub const ALL: [Cell; 3] = [Cell::Rnn, Cell::Gru, Cell::Lstm];

    /// The name used in grid files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "rnn",
            Cell::Gru => "gru",
            Cell::Lstm => "lstm",
        }
    }

    /// The cell called `name`.
    pub fn from_name(name: &str) -> Option<Cell> {
        Cell::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Groups of weights and biases per layer: 1 for the RNN, one per gate and candidate for
    /// the GRU (reset, update, new) and the LSTM (input, forget, cell, output).
    pub fn gate_groups(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }
}

/// How parameters are updated from their gradients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with PyTorch's defaults (β 0.9/0.999, ε 1e-8).
    #[default]
    Adam,
    /// Plain SGD (the classic d2l recipe: lr 1 with `clip` 1).
    Sgd,
}

impl OptimizerKind {
    /// The name used in grid files and reports.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Sgd => "sgd",
        }
    }
}

/// How training batches are drawn from the training part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// `batch_size` consecutive windows from one random start.
    #[default]
    Block,
    /// Every window from its own random start.
    Random,
    /// Consecutive batches continue each other row by row, and the hidden state carries over
    /// (detached), as d2l's sequential partitioning.
    Sequential,
}

impl Sampling {
    /// The name used in grid files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::Block => "block",
            Sampling::Random => "random",
            Sampling::Sequential => "sequential",
        }
    }
}

/// Everything that determines the outcome of one training run.
///
/// Two trials with equal `TrainParams` (and the same corpus) are the same trial: the trial id is
/// a hash of these values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// Recurrent cell.
    pub cell: Cell,
    /// Stacked recurrent layers (left out of the id at its default, 1).
    #[serde(default = "one_layer", skip_serializing_if = "is_one_layer")]
    pub layers: usize,
    /// Dropout probability between stacked layers during training (none with one layer).
    #[serde(default, skip_serializing_if = "is_default")]
    pub dropout: f64,
    /// Hidden state size H.
    pub hidden: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Characters per window (the unroll length).
    pub seq_len: usize,
    /// How batches are drawn (left out of the id at its default, as `optimizer` and `clip`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub sampling: Sampling,
    /// Learning rate.
    pub lr: f64,
    /// The optimizer (left out of the id when it is the default, so older trials keep theirs).
    #[serde(default, skip_serializing_if = "is_default")]
    pub optimizer: OptimizerKind,
    /// Gradients are scaled down to this global L2 norm when they exceed it; `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
    /// Optimizer steps to train.
    pub steps: usize,
    /// Held-out perplexity is measured every this many steps (and after the last step).
    pub eval_every: usize,
    /// Seed of the initialisation and batch sampling.
    pub seed: u64,
}

impl TrainParams {
    /// Why the parameter `key` has no effect with these values (`dropout` with one layer), or
    /// `None` when it has.
    pub fn no_effect(&self, key: &str) -> Option<&'static str> {
        match key {
            "dropout" if self.layers == 1 => Some("dropout acts between stacked layers only"),
            _ => None,
        }
    }
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            cell: Cell::Rnn,
            layers: 1,
            dropout: 0.0,
            hidden: 128,
            batch_size: 32,
            seq_len: 35,
            sampling: Sampling::Block,
            lr: 0.01,
            optimizer: OptimizerKind::Adam,
            clip: None,
            steps: 1000,
            eval_every: 100,
            seed: 0,
        }
    }
}

/// How a trial is run: checkpointing and retries. These do not change a trial's results, so
/// they are not part of its id, and changing them reuses every stored trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOptions {
    /// A running trial saves a checkpoint every this many steps (and when asked to stop).
    pub checkpoint_every: usize,
    /// Times a trial whose worker crashed is restarted from its last checkpoint.
    pub max_retries: u32,
    /// Train only up to this step for now (a rung of early stopping): the trial then stops
    /// with its checkpoint, to be continued if it is promoted. `None`: all `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<usize>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            checkpoint_every: 100,
            max_retries: 2,
            budget: None,
        }
    }
}

impl RunOptions {
    /// Assigns the top-level grid-file key `key`.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), ParamError> {
        match key {
            "checkpoint_every" => self.checkpoint_every = int_in(value, 1..=100_000_000)? as usize,
            "max_retries" => self.max_retries = int_in(value, 0..=100)? as u32,
            _ => {
                return Err(ParamError::Unknown {
                    suggestion: suggest(key, &["checkpoint_every", "max_retries"]),
                })
            }
        }
        Ok(())
    }
}

/// One training parameter: its name in grid files and reports, and how it is read and shown.
#[derive(Clone, Copy)]
pub struct Param {
    /// The name in `base`, `grid` and reports (the field of [`TrainParams`] it sets).
    pub key: &'static str,
    /// What the parameter is, in one line.
    pub doc: &'static str,
    /// Checks the type and range of a value and assigns it; a rejected value changes nothing.
    pub set: fn(&mut TrainParams, &Value) -> Result<(), ParamError>,
    /// The value as JSON, as reports and labels show it.
    pub get: fn(&TrainParams) -> Value,
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Param").field("key", &self.key).finish()
    }
}

/// A [`Param`] for the field `$key` of [`TrainParams`]: `|value| read` checks a `&Value` and
/// yields the field's value (`?` rejects it), `|field| show` turns the field's value into JSON.
macro_rules! param {
    ($key:ident, $doc:literal, |$value:ident| $read:expr, |$field:ident| $show:expr $(,)?) => {
        Param {
            key: stringify!($key),
            doc: $doc,
            set: |params, $value| {
                params.$key = $read;
                Ok(())
            },
            get: |params| {
                let $field = params.$key;
                $show
            },
        }
    };
}

/// Every training parameter, in the order reports list them: the one place that knows their
/// names, types, valid ranges and JSON forms (defaults are in [`TrainParams::default`]).
pub const PARAMS: &[Param] = &[
    param!(
        cell,
        "Recurrent cell: \"rnn\", \"gru\" or \"lstm\".",
        |v| cell(v)?,
        |c| Value::from(c.name()),
    ),
    param!(
        layers,
        "Stacked recurrent layers.",
        |v| int_in(v, LAYERS)? as usize,
        |n| Value::from(n),
    ),
    param!(
        dropout,
        "Dropout probability between stacked layers during training.",
        |v| probability(v)?,
        |p| Value::from(p),
    ),
    param!(
        hidden,
        "Hidden state size.",
        |v| int_in(v, SIZES)? as usize,
        |n| Value::from(n),
    ),
    param!(
        batch_size,
        "Windows per batch.",
        |v| int_in(v, SIZES)? as usize,
        |n| Value::from(n),
    ),
    param!(
        seq_len,
        "Characters per window (the unroll length).",
        |v| int_in(v, SIZES)? as usize,
        |n| Value::from(n),
    ),
    param!(
        sampling,
        "How batches are drawn: \"block\", \"random\" or \"sequential\".",
        |v| sampling(v)?,
        |s| Value::from(s.name()),
    ),
    param!(
        lr,
        "Learning rate of the optimizer (its step size).",
        |v| positive_float(v)?,
        |x| Value::from(x),
    ),
    param!(
        optimizer,
        "The optimizer: \"adam\" or \"sgd\".",
        |v| optimizer(v)?,
        |o| Value::from(o.name()),
    ),
    param!(
        clip,
        "Largest global gradient norm, or \"off\".",
        |v| clip(v)?,
        |c| c.map_or_else(|| Value::from("off"), Value::from),
    ),
    param!(
        steps,
        "Optimizer steps to train.",
        |v| int_in(v, 1..=100_000_000)? as usize,
        |n| Value::from(n),
    ),
    param!(
        eval_every,
        "Held-out perplexity is measured every this many steps.",
        |v| int_in(v, 1..=100_000_000)? as usize,
        |n| Value::from(n),
    ),
    param!(
        seed,
        "Seed of the initialisation and batch sampling.",
        |v| int_in(v, 0..=u64::MAX)?,
        |n| Value::from(n),
    ),
];

/// Names of all parameters, in the order reports list them (the keys of [`PARAMS`]).
pub const PARAM_KEYS: &[&str] = &{
    let mut keys = [""; PARAMS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = PARAMS[i].key;
        i += 1;
    }
    keys
};

/// The parameter named `key`.
pub fn param(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.key == key)
}

/// Valid sizes (`hidden`, `batch_size`, `seq_len`; the inputs and outputs of `sweep params`).
/// The upper bound catches typos (hidden 12800) before they allocate gigabytes.
pub const SIZES: RangeInclusive<u64> = 1..=16_384;

/// Valid numbers of stacked recurrent layers (`layers`, and `sweep params --layers`).
pub const LAYERS: RangeInclusive<u64> = 1..=16;

/// Why a value could not be assigned to a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamError {
    /// No parameter has this name.
    Unknown { suggestion: Option<String> },
    /// The value has the wrong type or is out of range.
    Invalid { expected: String, got: String },
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Unknown { suggestion } => {
                write!(
                    f,
                    "unknown parameter; expected one of: {}",
                    PARAM_KEYS.join(", ")
                )?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean `{s}`?)")?;
                }
                Ok(())
            }
            ParamError::Invalid { expected, got } => write!(f, "expected {expected}, got {got}"),
        }
    }
}

/// The closest name in `candidates` to `key`, if it is plausibly a typo of it.
pub fn suggest(key: &str, candidates: &[&str]) -> Option<String> {
    if key.len() > 64 {
        return None; // no typo of a short name
    }
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(key, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// A parameter value as labels and reports write it: strings without quotes, numbers as
/// people write them (`10` for 10.0, `0.01`, `1e30`, `1e-5`), so that `lr=10` reads the same
/// in a label and in a table column.
pub fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().expect("an f64 number");
            if x != 0.0 && (x.abs() >= 1e6 || x.abs() < 1e-4) {
                format!("{x:e}")
            } else {
                format!("{x}")
            }
        }
        v => v.to_string(),
    }
}

/// A short rendering of a JSON value for error messages.
pub fn describe(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

impl TrainParams {
    /// Assigns `value` to the parameter named `key`, checking its type and range.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), ParamError> {
        let param = param(key).ok_or_else(|| ParamError::Unknown {
            suggestion: suggest(key, PARAM_KEYS),
        })?;
        (param.set)(self, value)
    }

    /// The value of the parameter named `key` as JSON (for reports and labels).
    pub fn get(&self, key: &str) -> Option<Value> {
        param(key).map(|p| (p.get)(self))
    }
}

fn cell(value: &Value) -> Result<Cell, ParamError> {
    value
        .as_str()
        .and_then(Cell::from_name)
        .ok_or_else(|| ParamError::Invalid {
            expected: "\"rnn\", \"gru\" or \"lstm\"".into(),
            got: describe(value),
        })
}

fn probability(value: &Value) -> Result<f64, ParamError> {
    match value.as_f64() {
        Some(p) if (0.0..1.0).contains(&p) => Ok(p),
        _ => Err(ParamError::Invalid {
            expected: "a probability from 0 up to (not including) 1".into(),
            got: describe(value),
        }),
    }
}

fn one_layer() -> usize {
    1
}

fn is_one_layer(layers: &usize) -> bool {
    *layers == 1
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn optimizer(value: &Value) -> Result<OptimizerKind, ParamError> {
    match value.as_str() {
        Some("adam") => Ok(OptimizerKind::Adam),
        Some("sgd") => Ok(OptimizerKind::Sgd),
        _ => Err(ParamError::Invalid {
            expected: "\"adam\" or \"sgd\"".into(),
            got: describe(value),
        }),
    }
}

fn sampling(value: &Value) -> Result<Sampling, ParamError> {
    match value.as_str() {
        Some("block") => Ok(Sampling::Block),
        Some("random") => Ok(Sampling::Random),
        Some("sequential") => Ok(Sampling::Sequential),
        _ => Err(ParamError::Invalid {
            expected: "\"block\", \"random\" or \"sequential\"".into(),
            got: describe(value),
        }),
    }
}

fn clip(value: &Value) -> Result<Option<f64>, ParamError> {
    match value {
        Value::String(s) if s == "off" => Ok(None),
        Value::Null => Ok(None),
        _ => positive_float(value)
            .map(Some)
            .map_err(|_| ParamError::Invalid {
                expected: "a positive number (the largest gradient norm) or \"off\"".into(),
                got: describe(value),
            }),
    }
}

pub(crate) fn int_in(value: &Value, range: RangeInclusive<u64>) -> Result<u64, ParamError> {
    let (min, max) = (*range.start(), *range.end());
    let expected = || {
        if max == u64::MAX {
            format!("an integer ≥ {min}")
        } else {
            format!("an integer from {min} to {max}")
        }
    };
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ParamError::Invalid {
            expected: expected(),
            got: describe(value),
        }),
    }
}

fn positive_float(value: &Value) -> Result<f64, ParamError> {
    match value.as_f64() {
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(ParamError::Invalid {
            expected: "a positive number".into(),
            got: describe(value),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_the_same_in_labels_and_tables() {
        let shown = |v: Value| display_value(&v);
        assert_eq!(shown(json!(10)), "10");
        assert_eq!(shown(json!(10.0)), "10");
        assert_eq!(shown(Value::from(10.0f64)), "10");
        assert_eq!(shown(json!(0.01)), "0.01");
        assert_eq!(shown(json!(1e30)), "1e30");
        assert_eq!(shown(json!(0.00001)), "1e-5");
        assert_eq!(shown(json!("gru")), "gru");
        assert_eq!(shown(json!(0)), "0");
    }

    /// A value other than the default for every parameter, keyed by name.
    fn samples() -> Vec<(&'static str, Value)> {
        vec![
            ("cell", json!("lstm")),
            ("layers", json!(3)),
            ("dropout", json!(0.25)),
            ("hidden", json!(7)),
            ("batch_size", json!(3)),
            ("seq_len", json!(11)),
            ("sampling", json!("random")),
            ("lr", json!(0.5)),
            ("optimizer", json!("sgd")),
            ("clip", json!(1.5)),
            ("steps", json!(20)),
            ("eval_every", json!(5)),
            ("seed", json!(42)),
        ]
    }

    #[test]
    fn set_and_get_round_trip_every_key() {
        let samples = samples();
        let mut p = TrainParams::default();
        for param in PARAMS {
            let key = param.key;
            let (_, value) = samples
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap_or_else(|| panic!("no sample value for `{key}`"));
            let before = p.get(key).unwrap();
            assert_ne!(&before, value, "{key}: the sample is the default");
            p.set(key, value).unwrap();
            assert_eq!(p.get(key).as_ref(), Some(value), "{key}");
        }
        assert_eq!(
            samples.len(),
            PARAMS.len(),
            "a sample for a key not in PARAMS"
        );
        // Every field was set: the literal lists all fields (a new one must be added here), and
        // a field without a table entry would still hold its default.
        assert_eq!(
            p,
            TrainParams {
                cell: Cell::Lstm,
                layers: 3,
                dropout: 0.25,
                hidden: 7,
                batch_size: 3,
                seq_len: 11,
                sampling: Sampling::Random,
                lr: 0.5,
                optimizer: OptimizerKind::Sgd,
                clip: Some(1.5),
                steps: 20,
                eval_every: 5,
                seed: 42,
            }
        );
        // The table's keys are the serialized field names (none is skipped at these values).
        let fields = serde_json::to_value(&p).unwrap();
        let mut fields: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = PARAM_KEYS.to_vec();
        fields.sort_unstable();
        keys.sort_unstable();
        assert_eq!(fields, keys);
        // What `get` shows, `set` reads back to the same value, defaults included (`clip` "off").
        for start in [TrainParams::default(), p] {
            for key in PARAM_KEYS {
                let mut q = start.clone();
                q.set(key, &start.get(key).unwrap()).unwrap();
                assert_eq!(q, start, "{key}");
            }
        }
    }

    #[test]
    fn the_table_keys_are_unique_and_in_order() {
        assert_eq!(PARAM_KEYS.len(), PARAMS.len());
        for (i, (param, key)) in PARAMS.iter().zip(PARAM_KEYS).enumerate() {
            assert_eq!(param.key, *key);
            assert!(!param.doc.is_empty(), "{key} has no doc");
            assert!(
                !PARAM_KEYS[..i].contains(key),
                "`{key}` appears twice in PARAMS"
            );
            assert_eq!(super::param(key).map(|p| p.key), Some(*key));
        }
        assert!(super::param("hiden").is_none());
        assert_eq!(TrainParams::default().get("hiden"), None);
    }

    #[test]
    fn rejects_bad_values() {
        let mut p = TrainParams::default();
        for (key, value) in [
            ("hidden", json!(0)),
            ("hidden", json!(-3)),
            ("hidden", json!(12.5)),
            ("hidden", json!("128")),
            ("batch_size", json!(1_000_000)),
            ("lr", json!(0)),
            ("lr", json!(-0.1)),
            ("lr", json!("fast")),
            ("steps", json!(0)),
            ("optimizer", json!("adamw")),
            ("sampling", json!("shuffled")),
            ("clip", json!(0)),
            ("clip", json!(-1)),
            ("clip", json!("none")),
            ("cell", json!("transformer")),
            ("layers", json!(0)),
            ("layers", json!(17)),
            ("dropout", json!(1)),
            ("dropout", json!(-0.1)),
            ("cell", json!(1)),
            ("seed", json!(-1)),
        ] {
            let err = p.set(key, &value).unwrap_err();
            assert!(matches!(err, ParamError::Invalid { .. }), "{key}={value}");
        }
        assert_eq!(
            p,
            TrainParams::default(),
            "failed sets must not change anything"
        );
    }

    #[test]
    fn unknown_key_suggests_the_closest_name() {
        let err = TrainParams::default().set("hiden", &json!(1)).unwrap_err();
        assert_eq!(
            err,
            ParamError::Unknown {
                suggestion: Some("hidden".into())
            }
        );
        assert!(err.to_string().contains("did you mean `hidden`"));
        let err = TrainParams::default().set("zzzzzz", &json!(1)).unwrap_err();
        assert_eq!(err, ParamError::Unknown { suggestion: None });
    }
}
