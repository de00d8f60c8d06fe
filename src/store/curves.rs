//! A trial's recorded curves, whichever kind of trial it is: the built-in model's
//! `metrics.csv` rows (one per step) or a program's `metrics.jsonl` rows (where it reported),
//! and "the objective metric at a step" read the same way from both.

use std::sync::Arc;

use super::program_metrics::ProgramRow;
use super::MetricRow;
use crate::spec::{MetricSpec, Mode};

/// A trial's rows, shared (`Arc`) with incremental readers.
#[derive(Debug, Clone)]
pub enum Curves {
    /// The built-in model's rows.
    Model(Arc<Vec<MetricRow>>),
    /// A program's rows.
    Program(Arc<Vec<ProgramRow>>),
}

impl Default for Curves {
    fn default() -> Self {
        Curves::Model(Arc::default())
    }
}

impl Curves {
    /// Rows recorded.
    pub fn len(&self) -> usize {
        match self {
            Curves::Model(r) => r.len(),
            Curves::Program(r) => r.len(),
        }
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last step recorded (0 when none).
    pub fn last_step(&self) -> usize {
        match self {
            Curves::Model(r) => r.last().map_or(0, |r| r.step),
            Curves::Program(r) => r.last().map_or(0, |r| r.step),
        }
    }

    /// Training seconds at the last row.
    pub fn last_elapsed(&self) -> Option<f64> {
        match self {
            Curves::Model(r) => r.last().map(|r| r.elapsed_s),
            Curves::Program(r) => r.last().map(|r| r.elapsed_s),
        }
    }

    /// The built-in model's rows (none for a program).
    pub fn model(&self) -> &[MetricRow] {
        match self {
            Curves::Model(r) => r,
            Curves::Program(_) => &[],
        }
    }

    /// A program's rows (none for the built-in model).
    pub fn program(&self) -> &[ProgramRow] {
        match self {
            Curves::Model(_) => &[],
            Curves::Program(r) => r,
        }
    }

    /// Every `(step, value)` of the metric, in order.
    pub fn series(&self, metric: &str) -> Vec<(usize, f64)> {
        match self {
            Curves::Model(rows) => rows
                .iter()
                .filter_map(|r| Some((r.step, model_value(r, metric)?)))
                .collect(),
            Curves::Program(rows) => rows
                .iter()
                .filter_map(|r| Some((r.step, *r.values.get(metric)?)))
                .collect(),
        }
    }

    /// The metric's last value at a step ≤ `step` (a rung reads it there).
    pub fn value_at(&self, metric: &str, step: usize) -> Option<f64> {
        self.series(metric)
            .into_iter()
            .take_while(|(s, _)| *s <= step)
            .last()
            .map(|(_, v)| v)
    }

    /// The metric's last value and its step.
    pub fn last(&self, metric: &str) -> Option<(usize, f64)> {
        match self {
            Curves::Model(rows) => rows
                .iter()
                .rev()
                .find_map(|r| Some((r.step, model_value(r, metric)?))),
            Curves::Program(rows) => rows
                .iter()
                .rev()
                .find_map(|r| Some((r.step, *r.values.get(metric)?))),
        }
    }

    /// The names of the values its rows hold: the built-in model's `train_loss`, `train_ppl`,
    /// `heldout_ppl` (always, in that order); every metric a program reported, in name order.
    pub fn value_names(&self) -> Vec<String> {
        match self {
            Curves::Model(_) => MODEL_VALUES.map(String::from).to_vec(),
            Curves::Program(rows) => {
                let names: std::collections::BTreeSet<&String> =
                    rows.iter().flat_map(|r| r.values.keys()).collect();
                names.into_iter().cloned().collect()
            }
        }
    }

    /// Each row as `(step, elapsed seconds, the values of names)`, a value the row does not
    /// hold as `None`.
    pub fn rows(&self, names: &[String]) -> Vec<(usize, f64, Vec<Option<f64>>)> {
        match self {
            Curves::Model(rows) => rows
                .iter()
                .map(|r| {
                    let values = names.iter().map(|n| model_value(r, n)).collect();
                    (r.step, r.elapsed_s, values)
                })
                .collect(),
            Curves::Program(rows) => rows
                .iter()
                .map(|r| {
                    let values = names.iter().map(|n| r.values.get(n).copied()).collect();
                    (r.step, r.elapsed_s, values)
                })
                .collect(),
        }
    }

    /// The metric's best value (lowest for `min`, highest for `max`; non-finite ones count
    /// only when nothing else was reported) and its step.
    pub fn best(&self, metric: &MetricSpec) -> Option<(usize, f64)> {
        best_of(&self.series(&metric.name), metric.mode)
    }
}

/// The values of a built-in model's row, in the order `curves.csv` lists them.
const MODEL_VALUES: [&str; 3] = ["train_loss", "train_ppl", "heldout_ppl"];

/// The value of `metric` in a built-in model's row, if the row has it.
fn model_value(row: &MetricRow, metric: &str) -> Option<f64> {
    match metric {
        "heldout_ppl" => row.heldout_ppl,
        "train_ppl" => Some(row.train_ppl),
        "train_loss" => Some(row.train_loss),
        _ => None,
    }
}

/// The best `(step, value)`: by `mode`, finite values first, the earliest of ties.
pub fn best_of(series: &[(usize, f64)], mode: Mode) -> Option<(usize, f64)> {
    let key = |v: f64| {
        if v.is_finite() {
            mode.key(v)
        } else {
            f64::INFINITY
        }
    };
    series
        .iter()
        .copied()
        .reduce(|best, x| if key(x.1) < key(best.1) { x } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(step: usize, v: Option<f64>) -> ProgramRow {
        let mut values = BTreeMap::new();
        values.insert("train_loss".to_string(), 1.0 / step as f64);
        if let Some(v) = v {
            values.insert("acc".to_string(), v);
        }
        ProgramRow {
            step,
            elapsed_s: step as f64,
            values,
        }
    }

    #[test]
    fn the_value_at_a_rung_is_the_last_one_reported_by_then() {
        let curves = Curves::Program(Arc::new(vec![
            row(10, Some(0.5)),
            row(20, None),
            row(30, Some(0.7)),
            row(40, Some(f64::NAN)),
        ]));
        assert_eq!(curves.value_at("acc", 25), Some(0.5));
        assert_eq!(curves.value_at("acc", 30), Some(0.7));
        assert_eq!(curves.value_at("acc", 5), None);
        assert_eq!(curves.last_step(), 40);
        let max = MetricSpec {
            name: "acc".into(),
            mode: Mode::Max,
        };
        assert_eq!(curves.best(&max), Some((30, 0.7)));
        let min = MetricSpec {
            name: "acc".into(),
            mode: Mode::Min,
        };
        assert_eq!(curves.best(&min), Some((10, 0.5)));
        assert!(curves.last("acc").unwrap().1.is_nan());
    }

    #[test]
    fn the_model_reads_held_out_perplexity_where_it_was_measured() {
        let rows: Vec<MetricRow> = (1..=4)
            .map(|step| MetricRow {
                step,
                train_loss: 1.0,
                train_ppl: 2.7,
                heldout_ppl: (step % 2 == 0).then_some(10.0 - step as f64),
                elapsed_s: 0.1,
            })
            .collect();
        let curves = Curves::Model(Arc::new(rows));
        assert_eq!(curves.value_at("heldout_ppl", 2), Some(8.0));
        assert_eq!(curves.value_at("heldout_ppl", 3), Some(8.0));
        assert_eq!(curves.best(&MetricSpec::builtin()), Some((4, 6.0)));
    }
}
