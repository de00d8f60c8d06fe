//! The optimizer a trial uses ([`OptimizerKind`]), behind one type, with its state as named
//! tensors for checkpoints: `adam.m.<name>` and `adam.v.<name>` for Adam, none for SGD.

use candle_core::{backprop::GradStore, Result, Tensor, Var};

use super::adam::{Adam, AdamConfig};
use super::sgd::Sgd;
use crate::spec::OptimizerKind;

/// Adam or SGD over the model's variables.
pub enum Optimizer {
    /// Adam with PyTorch's defaults.
    Adam(Adam),
    /// Plain SGD.
    Sgd(Sgd),
}

impl Optimizer {
    /// A fresh optimizer of `kind` for `vars` with learning rate `lr`.
    pub fn new(kind: OptimizerKind, vars: Vec<Var>, lr: f64) -> Result<Optimizer> {
        Ok(match kind {
            OptimizerKind::Adam => Optimizer::Adam(Adam::new(
                vars,
                AdamConfig {
                    lr,
                    ..AdamConfig::default()
                },
            )?),
            OptimizerKind::Sgd => Optimizer::Sgd(Sgd::new(vars, lr)),
        })
    }

    /// Applies one update.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        match self {
            Optimizer::Adam(a) => a.step(grads),
            Optimizer::Sgd(s) => s.step(grads),
        }
    }

    /// Updates applied so far.
    pub fn steps(&self) -> u64 {
        match self {
            Optimizer::Adam(a) => a.steps(),
            Optimizer::Sgd(s) => s.steps(),
        }
    }

    /// The state tensors, named after the variables' `names` (in the variables' order).
    pub fn state(&self, names: &[&str]) -> Vec<(String, Tensor)> {
        match self {
            Optimizer::Adam(a) => {
                let m = names.iter().zip(a.first_moments());
                let v = names.iter().zip(a.second_moments());
                m.map(|(n, t)| (format!("adam.m.{n}"), t.clone()))
                    .chain(v.map(|(n, t)| (format!("adam.v.{n}"), t.clone())))
                    .collect()
            }
            Optimizer::Sgd(_) => Vec::new(),
        }
    }

    /// Restores the state from tensors fetched by name with `take` and the update count.
    pub fn restore(
        &mut self,
        names: &[&str],
        mut take: impl FnMut(String) -> Result<Tensor>,
        steps: u64,
    ) -> Result<()> {
        match self {
            Optimizer::Adam(a) => {
                let mut first = Vec::new();
                let mut second = Vec::new();
                for name in names {
                    first.push(take(format!("adam.m.{name}"))?);
                    second.push(take(format!("adam.v.{name}"))?);
                }
                a.restore(first, second, steps)
            }
            Optimizer::Sgd(s) => {
                s.restore(steps);
                Ok(())
            }
        }
    }
}
