//! Expands a [`GridSpec`] into trials (cartesian product of the axes, seeds last), each with a
//! stable id: a hash of its resolved parameters and of the corpus content.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::grid_file::{GridSpec, SpecError};
use super::params::{display_value, RunOptions, TrainParams};
use super::program::{ProgramParams, ProgramRef};
use super::search::{self, Domain, Search};
use super::trial_params::{Params, ParamsRef};
use crate::data::{batch, Corpus};

/// Which corpus a trial trains on; enough for a worker to load it and check it is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusRef {
    /// The built-in name or the path as written in the grid file.
    pub name: String,
    /// Absolute path of a corpus file; `None` for a built-in corpus.
    pub path: Option<PathBuf>,
    /// SHA-256 of the raw corpus bytes.
    pub sha256: String,
}

impl CorpusRef {
    /// Loads the corpus, checking that its bytes are still the ones the trial was planned on.
    pub fn load(&self) -> Result<Corpus, crate::data::CorpusError> {
        Corpus::reload(&self.name, self.path.as_deref(), &self.sha256)
    }
}

/// The complete configuration of one trial: what a worker reads from `config.json`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct TrialConfig {
    /// Stable id: see [`TrialConfig::identity`].
    pub id: String,
    /// Human-readable name from the swept values, e.g. `hidden=128 batch_size=32 seed=0`.
    pub label: String,
    /// What it trains, with its parameters.
    pub kind: TrialKind,
    /// Checkpointing and retries (not part of the id).
    pub run: RunOptions,
}

/// What a trial trains: the built-in model on a corpus, or a user's program; each with the
/// parameters of its kind (so the two always agree).
#[derive(Clone, Debug, PartialEq)]
pub enum TrialKind {
    /// The built-in character model.
    Model {
        /// Its training parameters.
        params: TrainParams,
        /// The corpus it trains on.
        corpus: CorpusRef,
    },
    /// A user's training program.
    Program {
        /// Its free-form parameters.
        params: ProgramParams,
        /// The command it runs and the metric it reports.
        program: ProgramRef,
    },
}

impl TrialKind {
    /// A trial of the kind `params` are for, on `corpus` (a model's) or running `program`;
    /// `None` when they do not match.
    pub fn new(
        params: Params,
        corpus: Option<CorpusRef>,
        program: Option<ProgramRef>,
    ) -> Option<TrialKind> {
        match (params, corpus, program) {
            (Params::Model(params), Some(corpus), None) => {
                Some(TrialKind::Model { params, corpus })
            }
            (Params::Program(params), None, Some(program)) => {
                Some(TrialKind::Program { params, program })
            }
            _ => None,
        }
    }

    /// The id: see [`TrialConfig::compute_id`] and [`TrialConfig::compute_program_id`].
    pub fn id(&self) -> String {
        match self {
            TrialKind::Model { params, corpus } => TrialConfig::compute_id(params, &corpus.sha256),
            TrialKind::Program { params, program } => {
                TrialConfig::compute_program_id(params, program)
            }
        }
    }

    /// Assigns `value` to the parameter `key`, checking it.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), super::params::ParamError> {
        match self {
            TrialKind::Model { params, .. } => params.set(key, value),
            TrialKind::Program { params, .. } => params.set(key, value),
        }
    }

    /// The same trial with another seed.
    pub fn with_seed(&self, seed: u64) -> TrialKind {
        let mut kind = self.clone();
        kind.set("seed", &Value::from(seed))
            .expect("a seed is a valid value");
        kind
    }
}

/// `config.json`: `id`, `label`, `params`, then `corpus` (a model trial) or `program`, and
/// `run`.
impl Serialize for TrialConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("TrialConfig", 5)?;
        out.serialize_field("id", &self.id)?;
        out.serialize_field("label", &self.label)?;
        match &self.kind {
            TrialKind::Model { params, corpus } => {
                out.serialize_field("params", params)?;
                out.serialize_field("corpus", corpus)?;
            }
            TrialKind::Program { params, program } => {
                out.serialize_field("params", params)?;
                out.serialize_field("program", program)?;
            }
        }
        out.serialize_field("run", &self.run)?;
        out.end()
    }
}

/// `config.json` as stored, before the kind of trial is known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    id: String,
    label: String,
    params: Value,
    #[serde(default)]
    corpus: Option<CorpusRef>,
    #[serde(default)]
    program: Option<ProgramRef>,
    #[serde(default)]
    run: RunOptions,
}

impl TryFrom<RawConfig> for TrialConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        let params = match (&raw.corpus, &raw.program) {
            (Some(_), None) => Params::Model(
                serde_json::from_value(raw.params).map_err(|e| format!("params: {e}"))?,
            ),
            (None, Some(_)) => Params::Program(
                ProgramParams::from_json(&raw.params).map_err(|e| format!("params: {e}"))?,
            ),
            (Some(_), Some(_)) => return Err("has both a corpus and a program".into()),
            (None, None) => return Err("has neither a corpus nor a program".into()),
        };
        let kind = TrialKind::new(params, raw.corpus, raw.program)
            .ok_or("its parameters do not match its kind")?;
        Ok(TrialConfig {
            id: raw.id,
            label: raw.label,
            kind,
            run: raw.run,
        })
    }
}

impl TrialConfig {
    /// The id of a model trial: 12 hex digits of SHA-256 over its parameters and corpus
    /// content.
    ///
    /// Labels, paths and file names do not enter the hash, so the same configuration has the
    /// same id in every sweep that contains it.
    pub fn compute_id(params: &TrainParams, corpus_sha256: &str) -> String {
        #[derive(Serialize)]
        struct Identity<'a> {
            params: &'a TrainParams,
            corpus_sha256: &'a str,
        }
        hash12(&Identity {
            params,
            corpus_sha256,
        })
    }

    /// The id of a program trial: 12 hex digits of SHA-256 over its parameters, the command
    /// as written, its working folder as written, its environment and its metric (decisions
    /// stored under an id were made for that metric). The absolute folder and the stop grace
    /// period do not enter it.
    pub fn compute_program_id(params: &ProgramParams, program: &ProgramRef) -> String {
        #[derive(Serialize)]
        struct Command<'a> {
            command: &'a [String],
            workdir: &'a str,
            env: &'a std::collections::BTreeMap<String, String>,
            metric: &'a super::program::MetricSpec,
        }
        #[derive(Serialize)]
        struct Identity<'a> {
            program: Command<'a>,
            params: &'a ProgramParams,
        }
        hash12(&Identity {
            program: Command {
                command: &program.command,
                workdir: &program.workdir,
                env: &program.env,
                metric: &program.metric,
            },
            params,
        })
    }

    /// Its parameters, whichever kind of trial it is.
    pub fn params(&self) -> ParamsRef<'_> {
        match &self.kind {
            TrialKind::Model { params, .. } => ParamsRef::Model(params),
            TrialKind::Program { params, .. } => ParamsRef::Program(params),
        }
    }

    /// The program a program trial runs; `None` for the built-in model.
    pub fn program(&self) -> Option<&ProgramRef> {
        match &self.kind {
            TrialKind::Program { program, .. } => Some(program),
            TrialKind::Model { .. } => None,
        }
    }

    /// The corpus a model trial trains on; `None` for a program.
    pub fn corpus(&self) -> Option<&CorpusRef> {
        match &self.kind {
            TrialKind::Model { corpus, .. } => Some(corpus),
            TrialKind::Program { .. } => None,
        }
    }

    /// The metric the trial is ranked by: its program's, or the built-in model's held-out
    /// perplexity (`heldout_ppl`, min).
    pub fn objective(&self) -> super::program::MetricSpec {
        self.program()
            .map_or_else(super::program::MetricSpec::builtin, |p| p.metric.clone())
    }

    /// The id recomputed from the configuration (equal to `id` unless the file was edited).
    pub fn identity(&self) -> String {
        self.kind.id()
    }

    /// The step this run of the trial trains to: its rung's budget under early stopping, else
    /// all its steps.
    pub fn budget(&self) -> usize {
        let steps = self.params().steps();
        self.run.budget.unwrap_or(steps).min(steps)
    }

    /// The key of the trial's configuration: its id with the seed left out, the same for
    /// every seed (early stopping decides per configuration; `rungs.jsonl` names them so).
    pub fn config_key(&self) -> String {
        self.kind.with_seed(0).id()
    }

    /// The label of the trial's configuration: its label without the seed (empty when the
    /// seed is all it has).
    pub fn config_label(&self) -> String {
        self.label
            .split(' ')
            .filter(|part| !part.starts_with("seed="))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The built-in model's parameters and corpus; `None` for a program trial.
    pub fn model(&self) -> Option<(&TrainParams, &CorpusRef)> {
        match &self.kind {
            TrialKind::Model { params, corpus } => Some((params, corpus)),
            TrialKind::Program { .. } => None,
        }
    }
}

fn hash12(identity: &impl Serialize) -> String {
    let json = serde_json::to_string(identity).expect("parameters serialize");
    let digest = Sha256::digest(json.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// One trial of a plan (an alias kept for readability at call sites).
pub type Trial = TrialConfig;

/// All trials of a sweep, in expansion order.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The sweep's name.
    pub name: String,
    /// Names of the swept parameters, in file order (seed last when swept).
    pub axes: Vec<String>,
    /// Those of them that are ranges (random search draws their values).
    pub ranges: Vec<String>,
    /// Those ranges drawn uniformly in the logarithm.
    pub log_ranges: Vec<String>,
    /// The trials.
    pub trials: Vec<Trial>,
}

impl Plan {
    /// Expands `spec` over `corpus` (`None` for a program sweep), checking that every trial's
    /// batches fit in the corpus. A TPE search plans its random `startup` configurations; the
    /// schedule adds TPE's proposals with [`TrialMaker`].
    pub fn build(spec: &GridSpec, corpus: Option<&Corpus>) -> Result<Plan, SpecError> {
        check_size(spec)?;
        let maker = TrialMaker::new(spec, corpus)?;
        let mut trials = Vec::new();
        match spec.search {
            Search::Grid => {
                let lengths: Vec<usize> = spec.axes.iter().map(|a| a.values().len()).collect();
                for combo in cartesian(&lengths) {
                    let values: Vec<(String, Value)> = spec
                        .axes
                        .iter()
                        .zip(combo)
                        .map(|(axis, i)| (axis.key.clone(), axis.values()[i].clone()))
                        .collect();
                    trials.push(maker.trial(&values)?);
                }
            }
            Search::Random { .. } | Search::Tpe(_) => {
                for drawn in random_configurations(spec)? {
                    trials.extend(maker.trials_of(&drawn)?);
                }
            }
        }
        Ok(Plan {
            name: spec.name.clone(),
            axes: spec.axes.iter().map(|a| a.key.clone()).collect(),
            ranges: spec
                .axes
                .iter()
                .filter(|a| a.is_range())
                .map(|a| a.key.clone())
                .collect(),
            log_ranges: spec
                .axes
                .iter()
                .filter(|a| {
                    matches!(&a.domain, Domain::Range(r)
                        if matches!(r.kind, search::RangeKind::LogUniform | search::RangeKind::LogInt))
                })
                .map(|a| a.key.clone())
                .collect(),
            trials,
        })
    }
}

/// The most trials one sweep plans: each is a folder with its records, and the plan is held
/// in memory (`--dry-run` of 100,000 trials: 0.9 s and 150 MB on a 2-core machine).
pub const MAX_TRIALS: usize = 100_000;

/// Refuses a plan of more than [`MAX_TRIALS`] trials before expanding it.
fn check_size(spec: &GridSpec) -> Result<(), SpecError> {
    let seeds = spec
        .axes
        .iter()
        .find(|a| a.key == "seed")
        .map_or(1, |a| a.values().len());
    let (key, trials, what) = match spec.search {
        Search::Grid => (
            "grid",
            spec.axes
                .iter()
                .try_fold(1usize, |n, a| n.checked_mul(a.values().len())),
            "the product of the axes' lengths".to_string(),
        ),
        Search::Random { trials, .. } => (
            "search.trials",
            trials.checked_mul(seeds),
            format!("{trials} configurations × {seeds} seeds"),
        ),
        Search::Tpe(t) => (
            "search.trials",
            t.trials.checked_mul(seeds),
            format!("{} configurations × {seeds} seeds", t.trials),
        ),
    };
    match trials {
        Some(n) if n <= MAX_TRIALS => Ok(()),
        n => Err(SpecError::Invalid {
            path: spec.path.clone(),
            key: key.into(),
            message: format!(
                "the sweep would have {} trials ({what}); a sweep runs at most {MAX_TRIALS}: \
                 split it into several grid files",
                n.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string())
            ),
        }),
    }
}

/// The axes a search draws or proposes values of: every axis but `seed`, in file order.
pub fn searched_axes(spec: &GridSpec) -> Vec<(String, Domain)> {
    spec.axes
        .iter()
        .filter(|a| a.key != "seed")
        .map(|a| (a.key.clone(), a.domain.clone()))
        .collect()
}

/// The configurations drawn at random: all of a random search, the `startup` ones of TPE
/// (the same as random search's first ones with that seed).
fn random_configurations(spec: &GridSpec) -> Result<Vec<Vec<Value>>, SpecError> {
    let (count, trials, seed) = match spec.search {
        Search::Grid => return Ok(Vec::new()),
        Search::Random { trials, seed } => (trials, trials, seed),
        Search::Tpe(t) => (t.startup, t.trials, t.seed),
    };
    let axes = searched_axes(spec);
    let invalid = |message| SpecError::Invalid {
        path: spec.path.clone(),
        key: "search.trials".into(),
        message,
    };
    search::check_space(&axes, trials).map_err(invalid)?;
    search::draw(&axes, count, seed).map_err(invalid)
}

/// Makes the trials of configurations: the base parameters with the axes' values set, one
/// trial per seed, checked against the corpus.
pub struct TrialMaker<'a> {
    spec: &'a GridSpec,
    /// The base trial: the grid's kind with its base parameters.
    base: TrialKind,
    /// The lengths of a model sweep's training and held-out parts of the corpus.
    split: Option<(usize, usize)>,
}

impl<'a> TrialMaker<'a> {
    /// A maker for `spec`'s trials on `corpus` (`None` for a program sweep); an error when a
    /// model sweep has no corpus or a program sweep has one.
    pub fn new(spec: &'a GridSpec, corpus: Option<&Corpus>) -> Result<Self, SpecError> {
        let corpus_ref = corpus.map(|corpus| CorpusRef {
            name: corpus.name.clone(),
            path: corpus.path.clone(),
            sha256: corpus.sha256.clone(),
        });
        let base = TrialKind::new(spec.base.clone(), corpus_ref, spec.program.clone()).ok_or_else(
            || SpecError::Invalid {
                path: spec.path.clone(),
                key: "program".into(),
                message: match spec.program {
                    Some(_) => "a program's trials have no corpus".into(),
                    None => "the built-in model's trials need a corpus".into(),
                },
            },
        )?;
        Ok(TrialMaker {
            spec,
            base,
            split: corpus.map(|c| batch::split_lengths(c.len())),
        })
    }

    /// The trials of one drawn or proposed configuration (a value of each of
    /// [`searched_axes`]), one per seed, the axes in file order.
    pub fn trials_of(&self, drawn: &[Value]) -> Result<Vec<TrialConfig>, SpecError> {
        let seeds: Vec<Value> = self
            .spec
            .axes
            .iter()
            .find(|a| a.key == "seed")
            .map_or_else(|| vec![Value::Null], |a| a.values().to_vec());
        seeds
            .iter()
            .map(|seed| {
                let mut drawn_values = drawn.iter();
                let values: Vec<(String, Value)> = self
                    .spec
                    .axes
                    .iter()
                    .map(|axis| {
                        let value = if axis.key == "seed" {
                            seed.clone()
                        } else {
                            drawn_values.next().expect("one value per axis").clone()
                        };
                        (axis.key.clone(), value)
                    })
                    .collect();
                self.trial(&values)
            })
            .collect()
    }

    /// The trial with these values of the axes.
    fn trial(&self, values: &[(String, Value)]) -> Result<TrialConfig, SpecError> {
        let mut kind = self.base.clone();
        let mut label = Vec::new();
        for (key, value) in values {
            kind.set(key, value).map_err(|e| SpecError::Invalid {
                path: self.spec.path.clone(),
                key: format!("grid.{key}"),
                message: e.to_string(),
            })?;
            label.push(format!("{key}={}", display_value(value)));
        }
        let label = if label.is_empty() {
            "base".into()
        } else {
            label.join(" ")
        };
        if let (TrialKind::Model { params, .. }, Some((train_len, heldout_len))) =
            (&kind, self.split)
        {
            check_fits(self.spec, params, train_len, heldout_len)?;
        }
        Ok(TrialConfig {
            id: kind.id(),
            label,
            kind,
            run: self.spec.run,
        })
    }
}

fn check_fits(
    spec: &GridSpec,
    p: &TrainParams,
    train_len: usize,
    heldout_len: usize,
) -> Result<(), SpecError> {
    let need_train = batch::min_train_len(p.batch_size, p.seq_len);
    let problem = if train_len < need_train {
        Some(format!(
            "too short for batch_size {} × seq_len {}: its training part (first 90%) has {} \
             characters, needs at least {need_train}",
            p.batch_size, p.seq_len, train_len
        ))
    } else if heldout_len < p.seq_len + 1 {
        Some(format!(
            "too short for seq_len {}: its held-out part (last 10%) has {} characters, needs at \
             least {}",
            p.seq_len,
            heldout_len,
            p.seq_len + 1
        ))
    } else {
        None
    };
    match problem {
        Some(message) => Err(SpecError::Invalid {
            path: spec.path.clone(),
            key: "corpus".into(),
            message,
        }),
        None => Ok(()),
    }
}

/// All index combinations of axes with the given lengths; the last axis varies fastest.
fn cartesian(lengths: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in lengths {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |i| {
                    let mut next = prefix.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys added later are left out of the id at their defaults, so stored trials keep their
    /// ids; a non-default value makes a new trial.
    #[test]
    fn new_keys_at_their_defaults_keep_old_ids() {
        let base = TrainParams::default();
        let json = serde_json::to_string(&base).unwrap();
        assert!(
            !json.contains("optimizer") && !json.contains("clip"),
            "{json}"
        );
        let id = TrialConfig::compute_id(&base, "abc");
        let sgd = TrainParams {
            optimizer: crate::spec::OptimizerKind::Sgd,
            ..base.clone()
        };
        let clipped = TrainParams {
            clip: Some(1.0),
            ..base.clone()
        };
        let random = TrainParams {
            sampling: crate::spec::Sampling::Random,
            ..base.clone()
        };
        assert_ne!(TrialConfig::compute_id(&random, "abc"), id);
        assert_ne!(TrialConfig::compute_id(&sgd, "abc"), id);
        assert_ne!(TrialConfig::compute_id(&clipped, "abc"), id);
        assert_ne!(
            TrialConfig::compute_id(&sgd, "abc"),
            TrialConfig::compute_id(&clipped, "abc")
        );
    }

    /// Ids are stored in every results folder: the same parameters and corpus must keep giving
    /// the same 12 hex digits in every version (a change would orphan every stored trial).
    #[test]
    fn ids_are_pinned() {
        assert_eq!(
            TrialConfig::compute_id(&TrainParams::default(), "abc"),
            "a96226b8f520"
        );
        let main_grid = plan(
            r#"{ "base": { "cell": "rnn", "hidden": 128, "batch_size": 32, "seq_len": 35,
                           "lr": 0.01, "steps": 1000, "eval_every": 100, "seed": 0 },
                 "grid": { "hidden": [128], "batch_size": [16] }, "seeds": [0, 1] }"#,
        )
        .unwrap();
        let ids: Vec<&str> = main_grid.trials.iter().map(|t| t.id.as_str()).collect();
        // sweeps/grid.json's first two trials on the embedded corpus.
        assert_eq!(ids, ["f27d209fe075", "3ef143df0a39"]);
    }

    use std::path::Path;

    fn plan(text: &str) -> Result<Plan, SpecError> {
        let spec = GridSpec::parse(Path::new("g.json"), text)?;
        Plan::build(&spec, Some(&Corpus::builtin()))
    }

    #[test]
    fn expansion_is_the_cartesian_product_times_seeds() {
        let p = plan(
            r#"{"grid": {"hidden": [128, 200, 300], "batch_size": [16, 32, 64]},
                "seeds": [0, 1]}"#,
        )
        .unwrap();
        assert_eq!(p.trials.len(), 18);
        assert_eq!(p.axes, ["hidden", "batch_size", "seed"]);
        assert_eq!(p.trials[0].label, "hidden=128 batch_size=16 seed=0");
        assert_eq!(p.trials[1].label, "hidden=128 batch_size=16 seed=1");
        assert_eq!(p.trials[17].label, "hidden=300 batch_size=64 seed=1");
        assert_eq!(
            (
                p.trials[17].params().model().unwrap().hidden,
                p.trials[17].params().model().unwrap().batch_size
            ),
            (300, 64)
        );
        let mut ids: Vec<_> = p.trials.iter().map(|t| t.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 18, "ids are distinct");
    }

    #[test]
    fn ids_depend_on_the_resolved_config_only() {
        let a =
            plan(r#"{"name": "a", "base": {"hidden": 64}, "grid": {"lr": [0.01, 0.1]}}"#).unwrap();
        let b =
            plan(r#"{"name": "b", "grid": {"hidden": [64]}, "seeds": [0], "base": {"lr": 0.1}}"#)
                .unwrap();
        assert_eq!(a.trials[1].id, b.trials[0].id, "same config, same id");
        assert_ne!(a.trials[0].id, a.trials[1].id);
        assert_eq!(a.trials[0].id.len(), 12);
        // Stable across runs and versions: a change here orphans every stored result.
        assert_eq!(
            TrialConfig::compute_id(&TrainParams::default(), "abc"),
            "a96226b8f520"
        );
        assert_ne!(
            TrialConfig::compute_id(&TrainParams::default(), "abc"),
            TrialConfig::compute_id(&TrainParams::default(), "abd")
        );
    }

    #[test]
    fn no_grid_gives_one_base_trial() {
        let p = plan("{}").unwrap();
        assert_eq!(p.trials.len(), 1);
        assert_eq!(p.trials[0].label, "base");
        assert_eq!(
            p.trials[0].params(),
            ParamsRef::Model(&TrainParams::default())
        );
    }

    #[test]
    fn batches_that_do_not_fit_the_corpus_are_rejected_before_training() {
        let msg = plan(r#"{"grid": {"batch_size": [32, 8192], "seq_len": [35]}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("g.json: `corpus`: too short for batch_size 8192 × seq_len 35"),
            "{msg}"
        );
    }

    const SEARCH: &str = r#"{
        "search": {"method": "random", "trials": 5, "seed": 11},
        "grid": {"lr": {"loguniform": [1e-3, 1e-1]}, "hidden": {"int": [16, 64]},
                 "cell": ["rnn", "gru"]},
        "seeds": [0, 1]
    }"#;

    #[test]
    fn random_search_draws_configurations_each_repeated_per_seed() {
        let p = plan(SEARCH).unwrap();
        assert_eq!(p.trials.len(), 10);
        assert_eq!(p.axes, ["lr", "hidden", "cell", "seed"]);
        assert_eq!(p.ranges, ["lr", "hidden"]);
        for pair in p.trials.chunks(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!((a.params().seed(), b.params().seed()), (0, 1));
            assert_eq!(
                a.params().model().unwrap().lr,
                b.params().model().unwrap().lr
            );
            assert_eq!(
                a.params().model().unwrap().hidden,
                b.params().model().unwrap().hidden
            );
            assert!(a.label.ends_with(" seed=0") && b.label.ends_with(" seed=1"));
            assert!(a.label.starts_with(&format!(
                "lr={} hidden={} cell=",
                a.params().model().unwrap().lr,
                a.params().model().unwrap().hidden
            )));
            assert!(
                (1e-3..=1e-1).contains(&a.params().model().unwrap().lr)
                    && (16..=64).contains(&a.params().model().unwrap().hidden)
            );
        }
        // The same file gives the same trials; more trials keep the first ones.
        let again = plan(SEARCH).unwrap();
        let ids = |p: &Plan| p.trials.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&again), ids(&p));
        let more = plan(&SEARCH.replace("\"trials\": 5", "\"trials\": 8")).unwrap();
        assert_eq!(ids(&more)[..10], ids(&p)[..]);
        assert_eq!(more.trials.len(), 16);
        let other = plan(&SEARCH.replace("\"seed\": 11", "\"seed\": 12")).unwrap();
        assert_ne!(ids(&other), ids(&p));
    }

    #[test]
    fn a_grid_keeps_its_ids_and_ranges_need_a_search() {
        let grid = plan(r#"{"grid": {"hidden": [128, 200]}}"#).unwrap();
        let explicit =
            plan(r#"{"search": {"method": "grid"}, "grid": {"hidden": [128, 200]}}"#).unwrap();
        assert_eq!(grid.trials, explicit.trials);
        assert!(grid.ranges.is_empty());
        let msg = plan(r#"{"grid": {"lr": {"loguniform": [0.001, 0.1]}}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("g.json: `grid.lr`: a range needs a search that draws from it"),
            "{msg}"
        );
        let msg = plan(
            r#"{"search": {"method": "random", "trials": 3}, "grid": {"cell": ["rnn", "gru"]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("`search.trials`") && msg.contains("only 2 distinct"),
            "{msg}"
        );
        let msg = plan(r#"{"search": {"method": "random", "trials": 3}, "grid": {"hidden": {"uniform": [8, 64]}}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`grid.hidden`") && msg.contains("\"int\""),
            "{msg}"
        );
    }

    fn program_plan(text: &str) -> Result<Plan, SpecError> {
        let spec = GridSpec::parse(Path::new("g.json"), text)?;
        assert!(spec.program.is_some());
        Plan::build(&spec, None)
    }

    const PROGRAM: &str = r#"{
        "program": {"command": ["python3", "train.py", "--lr={lr}", "--opt", "{opt}"],
                    "env": {"PYTHONUNBUFFERED": "1"}},
        "metric": {"name": "val_loss", "mode": "min"},
        "base": {"steps": 200, "opt": "sgd"},
        "grid": {"lr": [0.1, 0.5], "opt": ["sgd", "adam"]},
        "seeds": [0, 1]
    }"#;

    #[test]
    fn program_grids_expand_free_form_parameters_with_stable_ids() {
        let p = program_plan(PROGRAM).unwrap();
        assert_eq!(p.trials.len(), 8);
        let first = &p.trials[0];
        assert_eq!(first.label, "lr=0.1 opt=sgd seed=0");
        assert!(first.corpus().is_none());
        let params = first.params().program().unwrap();
        assert_eq!(
            params.to_json(),
            serde_json::json!({"lr": 0.1, "opt": "sgd", "seed": 0, "steps": 200})
        );
        assert_eq!(
            first.program().unwrap().argv(params),
            ["python3", "train.py", "--lr=0.1", "--opt", "sgd"]
        );
        // Pinned: program ids are stored in results folders as model ids are.
        assert_eq!(first.id, "9acce8334a3e");
        let ids: std::collections::BTreeSet<&str> =
            p.trials.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), 8);
        // The seed is left out of the configuration key, nothing else.
        assert_eq!(p.trials[0].config_key(), p.trials[1].config_key());
        assert_ne!(p.trials[0].config_key(), p.trials[2].config_key());
        // The order of keys in the file does not matter; the metric and the command do.
        let reordered = PROGRAM.replace(
            r#""steps": 200, "opt": "sgd""#,
            r#""opt": "sgd", "steps": 200"#,
        );
        assert_eq!(program_plan(&reordered).unwrap().trials[0].id, first.id);
        let max = PROGRAM.replace(r#""mode": "min""#, r#""mode": "max""#);
        assert_ne!(program_plan(&max).unwrap().trials[0].id, first.id);
        let other = PROGRAM.replace("train.py", "train2.py");
        assert_ne!(program_plan(&other).unwrap().trials[0].id, first.id);
        // The stop grace period is how a trial is stopped, not what it computes.
        let grace = PROGRAM.replace(r#""env""#, r#""stop_grace_s": 5, "env""#);
        assert_eq!(program_plan(&grace).unwrap().trials[0].id, first.id);
    }

    #[test]
    fn a_program_config_round_trips_and_a_model_config_is_unchanged() {
        let p = program_plan(PROGRAM).unwrap();
        let json = serde_json::to_string(&p.trials[3]).unwrap();
        let back: TrialConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p.trials[3]);
        assert_eq!(back.identity(), back.id);

        let model = plan(r#"{"grid": {"hidden": [64]}}"#).unwrap();
        let json = serde_json::to_value(&model.trials[0]).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "label", "params", "corpus", "run"]);
        let back: TrialConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, model.trials[0]);
        let mut both = json.clone();
        both["program"] = serde_json::to_value(p.trials[0].program().cloned()).unwrap();
        let err = serde_json::from_value::<TrialConfig>(both)
            .unwrap_err()
            .to_string();
        assert!(err.contains("both a corpus and a program"), "{err}");
    }

    #[test]
    fn program_grids_check_their_sections() {
        let err = |text: &str| program_plan_err(text);
        let msg = err(&PROGRAM.replace("{opt}", "{optt}"));
        assert!(
            msg.contains("`program.command[4]`: unknown placeholder `{optt}` (did you mean `{opt}`?); the parameters are: lr, opt, seed, steps"),
            "{msg}"
        );
        assert!(
            err(&PROGRAM.replace(r#""metric": {"name": "val_loss", "mode": "min"},"#, ""))
                .contains("`metric`: missing")
        );
        assert!(
            err(&PROGRAM.replace(r#""mode": "min""#, r#""mode": "lowest""#))
                .contains("`metric.mode`: expected \"min\" or \"max\"")
        );
        assert!(
            err(&PROGRAM.replace(r#""seeds""#, r#""corpus": "x.txt", "seeds""#))
                .contains("`corpus`: applies to the built-in model only")
        );
        assert!(
            err(&PROGRAM.replace(r#""env""#, r#""workdir": "no/such/folder", "env""#))
                .contains("`program.workdir`")
        );
        assert!(
            err(&PROGRAM.replace(r#""opt": ["sgd", "adam"]"#, r#""opt": [["sgd"]]"#))
                .contains("`grid.opt`: item 0: expected a number, a string or a boolean")
        );
        let msg = GridSpec::parse(Path::new("g.json"), r#"{"metric": {"name": "x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`metric`: the built-in model's metric"),
            "{msg}"
        );
        // A free-form range is typed by its kind.
        let ranged = PROGRAM
            .replace(
                r#""lr": [0.1, 0.5]"#,
                r#""lr": {"loguniform": [0.01, 1]}, "width": {"int": [2, 9]}"#,
            )
            .replace(
                r#""grid""#,
                r#""search": {"method": "random", "trials": 3}, "grid""#,
            );
        let p = program_plan(&ranged).unwrap();
        assert_eq!(p.trials.len(), 6);
        let params = p.trials[0].params().program().unwrap();
        assert!(params.get("width").unwrap().is_i64());
        assert!(params.get("lr").unwrap().is_f64());
    }

    fn program_plan_err(text: &str) -> String {
        GridSpec::parse(Path::new("g.json"), text)
            .and_then(|spec| Plan::build(&spec, None))
            .unwrap_err()
            .to_string()
    }
}
