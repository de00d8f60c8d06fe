//! What the reports rank by and how they name it: the sweep's objective (a metric with a
//! name and a direction) and whether it is the built-in model's, whose trials have the
//! training-curve measures (perplexity bands, convergence, volatility, divergence, parameter
//! counts, the sample) that a program's do not. Everything else in a report is the same for
//! both kinds of trial.

use super::lang::Lang;
use super::load::SweepRecord;
use crate::spec::{MetricSpec, Mode};

/// The objective of a sweep, as the reports write it.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// Its name and direction.
    pub metric: MetricSpec,
    /// Whether the trials are the built-in model's (their extra measures and sections apply).
    pub builtin: bool,
}

impl Objective {
    /// The objective of `sweep`.
    pub fn of(sweep: &SweepRecord) -> Objective {
        Objective {
            metric: sweep.manifest.objective(),
            builtin: sweep.manifest.metric.is_none(),
        }
    }

    /// The metric's name (`heldout_ppl`, `val_loss`).
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// Minimised or maximised.
    pub fn mode(&self) -> Mode {
        self.metric.mode
    }

    /// `x` as a sort key where lower is better.
    pub fn key(&self, x: f64) -> f64 {
        self.metric.mode.key(x)
    }

    /// Whether `a` is better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        self.key(a) < self.key(b)
    }

    /// The metric in a sentence: "held-out perplexity" for the built-in model, the metric's
    /// name (`val_loss`) for a program.
    pub fn phrase(&self, lang: Lang) -> String {
        match (self.builtin, lang) {
            (true, Lang::En) => "held-out perplexity".into(),
            (true, Lang::Zh) => "验证困惑度".into(),
            (false, _) => self.metric.name.clone(),
        }
    }

    /// [`Objective::phrase`] at the start of a sentence or a title.
    pub fn title(&self, lang: Lang) -> String {
        match (self.builtin, lang) {
            (true, Lang::En) => "Held-out perplexity".into(),
            _ => self.phrase(lang),
        }
    }

    /// The heading of its column (its final value).
    pub fn column(&self, lang: Lang) -> String {
        match self.builtin {
            true => lang.words().heldout_ppl.into(),
            false => self.metric.name.clone(),
        }
    }

    /// The heading of the column of its best value.
    pub fn best_column(&self, lang: Lang) -> String {
        match (self.builtin, lang) {
            (true, _) => lang.words().best_heldout.into(),
            (false, Lang::En) => format!("best {}", self.metric.name),
            (false, Lang::Zh) => format!("最佳 {}", self.metric.name),
        }
    }

    /// Decimals its values are written with: two for a perplexity, four for a program's
    /// metric (a loss of 0.0071 must not read 0.01).
    pub fn decimals(&self) -> usize {
        if self.builtin {
            2
        } else {
            4
        }
    }

    /// "lower is better" / "higher is better".
    pub fn direction(&self, lang: Lang) -> &'static str {
        match (self.metric.mode, lang) {
            (Mode::Min, Lang::En) => "lower is better",
            (Mode::Max, Lang::En) => "higher is better",
            (Mode::Min, Lang::Zh) => "越低越好",
            (Mode::Max, Lang::Zh) => "越高越好",
        }
    }

    /// "lowest" / "highest".
    pub fn best_word(&self, lang: Lang) -> &'static str {
        match (self.metric.mode, lang) {
            (Mode::Min, Lang::En) => "lowest",
            (Mode::Max, Lang::En) => "highest",
            (Mode::Min, Lang::Zh) => "最低",
            (Mode::Max, Lang::Zh) => "最高",
        }
    }

    /// How much worse `last` is than `best`, as a fraction of `best` (for a metric whose
    /// values are positive; `None` otherwise, where a ratio means nothing).
    pub fn worse_by(&self, best: f64, last: f64) -> Option<f64> {
        (best > 0.0 && last > 0.0 && best.is_finite() && last.is_finite()).then(|| {
            match self.metric.mode {
                Mode::Min => last / best - 1.0,
                Mode::Max => 1.0 - last / best,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(mode: Mode) -> Objective {
        Objective {
            metric: MetricSpec {
                name: "acc".into(),
                mode,
            },
            builtin: false,
        }
    }

    #[test]
    fn worse_by_follows_the_direction_and_refuses_non_positive_values() {
        let min = program(Mode::Min);
        assert!((min.worse_by(2.0, 2.5).unwrap() - 0.25).abs() < 1e-12);
        let max = program(Mode::Max);
        assert!((max.worse_by(0.8, 0.6).unwrap() - 0.25).abs() < 1e-12);
        assert!(max.better(0.8, 0.6) && min.better(0.6, 0.8));
        assert_eq!(min.worse_by(-1.0, 2.0), None);
        assert_eq!(min.worse_by(1.0, f64::INFINITY), None);
    }

    #[test]
    fn the_builtin_objective_reads_as_a_perplexity_and_a_program_by_its_name() {
        let builtin = Objective {
            metric: MetricSpec::builtin(),
            builtin: true,
        };
        assert_eq!(builtin.phrase(Lang::En), "held-out perplexity");
        assert_eq!(builtin.decimals(), 2);
        let acc = program(Mode::Max);
        assert_eq!(acc.phrase(Lang::Zh), "acc");
        assert_eq!(acc.best_column(Lang::En), "best acc");
        assert_eq!(acc.direction(Lang::En), "higher is better");
    }
}
