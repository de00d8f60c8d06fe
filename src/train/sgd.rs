//! Plain stochastic gradient descent, `p ← p - lr·g`, in place: the optimizer of the classic
//! d2l recipe (learning rate 1 with gradient clipping at 1).

use super::elements::{elements, elements_mut};
use candle_core::{backprop::GradStore, CpuStorage, InplaceOp2, Layout, Result, Var};

/// SGD over a fixed list of variables; it has no state besides the update count.
pub struct Sgd {
    lr: f64,
    vars: Vec<Var>,
    steps: u64,
}

impl Sgd {
    /// An optimizer for `vars` with learning rate `lr`.
    pub fn new(vars: Vec<Var>, lr: f64) -> Sgd {
        Sgd { lr, vars, steps: 0 }
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Continues counting from `steps` (from a checkpoint).
    pub fn restore(&mut self, steps: u64) {
        self.steps = steps;
    }

    /// Applies one update from `grads`; variables without a gradient are left unchanged.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        for var in &self.vars {
            if let Some(g) = grads.get(var) {
                var.as_tensor()
                    .inplace_op2(&g.contiguous()?, &Descend { lr: self.lr })?;
            }
        }
        Ok(())
    }
}

/// `p ← p - lr·g`.
struct Descend {
    lr: f64,
}

impl InplaceOp2 for Descend {
    fn name(&self) -> &'static str {
        "sgd-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => {
                let lr = self.lr as f32;
                let (p, g) = (elements_mut(p, l1)?, elements(g, l2)?);
                p.iter_mut().zip(g).for_each(|(p, &g)| *p -= lr * g);
            }
            (CpuStorage::F64(p), CpuStorage::F64(g)) => {
                let lr = self.lr;
                let (p, g) = (elements_mut(p, l1)?, elements(g, l2)?);
                p.iter_mut().zip(g).for_each(|(p, &g)| *p -= lr * g);
            }
            _ => candle_core::bail!("sgd: f32 or f64 parameters of one dtype expected"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn each_step_moves_against_the_gradient_by_lr() {
        let x = Var::new(&[1.0f64, -2.0, 0.5], &Device::Cpu).unwrap();
        let mut sgd = Sgd::new(vec![x.clone()], 0.1);
        let mut want = [1.0f64, -2.0, 0.5];
        for _ in 0..3 {
            // f = Σ x² / 2, so g = x.
            let loss = (x.sqr().unwrap().sum_all().unwrap() * 0.5).unwrap();
            sgd.step(&loss.backward().unwrap()).unwrap();
            want.iter_mut().for_each(|w| *w -= 0.1 * *w);
        }
        let got: Vec<f64> = x.to_vec1().unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?} vs {want:?}");
        }
        assert_eq!(sgd.steps(), 3);
    }
}
