//! Expands a [`GridSpec`] into trials (cartesian product of the axes, seeds last), each with a
//! stable id: a hash of its resolved parameters and of the corpus content.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::grid_file::{GridSpec, SpecError};
use super::params::{display_value, RunOptions, TrainParams};
use super::search::{self, Domain, Search};
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialConfig {
    /// Stable id: see [`TrialConfig::compute_id`].
    pub id: String,
    /// Human-readable name from the swept values, e.g. `hidden=128 batch_size=32 seed=0`.
    pub label: String,
    /// Training parameters.
    pub params: TrainParams,
    /// Training data.
    pub corpus: CorpusRef,
    /// Checkpointing and retries (not part of the id).
    #[serde(default)]
    pub run: RunOptions,
}

impl TrialConfig {
    /// The id of a trial: 12 hex digits of SHA-256 over its parameters and corpus content.
    ///
    /// Labels, paths and file names do not enter the hash, so the same configuration has the
    /// same id in every sweep that contains it.
    pub fn compute_id(params: &TrainParams, corpus_sha256: &str) -> String {
        #[derive(Serialize)]
        struct Identity<'a> {
            params: &'a TrainParams,
            corpus_sha256: &'a str,
        }
        let json = serde_json::to_string(&Identity {
            params,
            corpus_sha256,
        })
        .expect("parameters serialize");
        let digest = Sha256::digest(json.as_bytes());
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl TrialConfig {
    /// The key of the trial's configuration: its id with the seed left out, the same for
    /// every seed (early stopping decides per configuration; `rungs.jsonl` names them so).
    pub fn config_key(&self) -> String {
        let mut params = self.params.clone();
        params.seed = 0;
        TrialConfig::compute_id(&params, &self.corpus.sha256)
    }
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
    /// Expands `spec` over `corpus`, checking that every trial's batches fit in the corpus.
    /// A TPE search plans its random `startup` configurations; the schedule adds TPE's
    /// proposals with [`TrialMaker`].
    pub fn build(spec: &GridSpec, corpus: &Corpus) -> Result<Plan, SpecError> {
        let maker = TrialMaker::new(spec, corpus);
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
    corpus: CorpusRef,
    train_len: usize,
    heldout_len: usize,
}

impl<'a> TrialMaker<'a> {
    /// A maker for `spec`'s trials on `corpus`.
    pub fn new(spec: &'a GridSpec, corpus: &Corpus) -> Self {
        let (train_len, heldout_len) = batch::split_lengths(corpus.len());
        TrialMaker {
            spec,
            corpus: CorpusRef {
                name: corpus.name.clone(),
                path: corpus.path.clone(),
                sha256: corpus.sha256.clone(),
            },
            train_len,
            heldout_len,
        }
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
        let mut params = self.spec.base.clone();
        let mut label = Vec::new();
        for (key, value) in values {
            params.set(key, value).map_err(|e| SpecError::Invalid {
                path: self.spec.path.clone(),
                key: format!("grid.{key}"),
                message: e.to_string(),
            })?;
            label.push(format!("{key}={}", display_value(value)));
        }
        check_fits(self.spec, &params, self.train_len, self.heldout_len)?;
        Ok(TrialConfig {
            id: TrialConfig::compute_id(&params, &self.corpus.sha256),
            label: if label.is_empty() {
                "base".into()
            } else {
                label.join(" ")
            },
            params,
            corpus: self.corpus.clone(),
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
        Plan::build(&spec, &Corpus::builtin())
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
            (p.trials[17].params.hidden, p.trials[17].params.batch_size),
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
        assert_eq!(p.trials[0].params, TrainParams::default());
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
            assert_eq!((a.params.seed, b.params.seed), (0, 1));
            assert_eq!(a.params.lr, b.params.lr);
            assert_eq!(a.params.hidden, b.params.hidden);
            assert!(a.label.ends_with(" seed=0") && b.label.ends_with(" seed=1"));
            assert!(a.label.starts_with(&format!(
                "lr={} hidden={} cell=",
                a.params.lr, a.params.hidden
            )));
            assert!((1e-3..=1e-1).contains(&a.params.lr) && (16..=64).contains(&a.params.hidden));
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
}
