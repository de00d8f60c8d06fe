//! Adam (Kingma & Ba) with PyTorch's update rule and defaults, with state the caller can read
//! and restore (for checkpoints): first and second moments per parameter and the step count.
//! Moments and parameters are updated in place (three passes per parameter, no allocation).

use super::elements::{elements, elements_mut};
use candle_core::{
    backprop::GradStore, CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, Var,
};

/// Adam hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam over a fixed list of variables (no weight decay).
pub struct Adam {
    config: AdamConfig,
    vars: Vec<Var>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: u64,
}

impl Adam {
    /// An optimizer for `vars` with zeroed moments.
    pub fn new(vars: Vec<Var>, config: AdamConfig) -> Result<Adam> {
        let zeros = |v: &Var| v.zeros_like();
        Ok(Adam {
            first: vars.iter().map(zeros).collect::<Result<_>>()?,
            second: vars.iter().map(zeros).collect::<Result<_>>()?,
            vars,
            config,
            steps: 0,
        })
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// First moments, in the order of the variables.
    pub fn first_moments(&self) -> &[Tensor] {
        &self.first
    }

    /// Second moments, in the order of the variables.
    pub fn second_moments(&self) -> &[Tensor] {
        &self.second
    }

    /// Replaces the moments and update count (from a checkpoint); shapes must match.
    pub fn restore(&mut self, first: Vec<Tensor>, second: Vec<Tensor>, steps: u64) -> Result<()> {
        if first.len() != self.vars.len() || second.len() != self.vars.len() {
            candle_core::bail!("optimizer state has the wrong number of tensors");
        }
        for ((var, m), v) in self.vars.iter().zip(&first).zip(&second) {
            if m.shape() != var.shape() || v.shape() != var.shape() {
                candle_core::bail!(
                    "optimizer state shape {:?} does not match {:?}",
                    m.shape(),
                    var.shape()
                );
            }
        }
        self.first = first;
        self.second = second;
        self.steps = steps;
        Ok(())
    }

    /// Applies one update from `grads`, as `torch.optim.Adam`:
    /// `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`,
    /// `p ← p - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)`.
    /// Variables without a gradient are left unchanged (their moments too).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        let AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
        } = self.config;
        let t = self.steps as i32;
        let correction1 = 1.0 - beta1.powi(t);
        let correction2 = 1.0 - beta2.powi(t);
        for ((var, m), v) in self.vars.iter().zip(&self.first).zip(&self.second) {
            let Some(g) = grads.get(var) else { continue };
            let g = g.contiguous()?;
            m.inplace_op2(
                &g,
                &Moment {
                    decay: beta1,
                    square: false,
                },
            )?;
            v.inplace_op2(
                &g,
                &Moment {
                    decay: beta2,
                    square: true,
                },
            )?;
            let update = Update {
                step_size: lr / correction1,
                inv_sqrt_correction2: 1.0 / correction2.sqrt(),
                eps,
            };
            var.as_tensor().inplace_op3(m, v, &update)?;
        }
        Ok(())
    }
}

/// `m ← decay·m + (1-decay)·g` (or `g²` when `square`), in place.
struct Moment {
    decay: f64,
    square: bool,
}

/// `p ← p - step_size · m / (√v · inv_sqrt_correction2 + eps)`, in place.
struct Update {
    step_size: f64,
    inv_sqrt_correction2: f64,
    eps: f64,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adam-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        macro_rules! run {
            ($m:expr, $g:expr, $t:ty) => {{
                let (m, g) = (elements_mut($m, l1)?, elements($g, l2)?);
                let (a, b) = (self.decay as $t, (1.0 - self.decay) as $t);
                if self.square {
                    m.iter_mut()
                        .zip(g)
                        .for_each(|(m, &g)| *m = *m * a + g * g * b);
                } else {
                    m.iter_mut().zip(g).for_each(|(m, &g)| *m = *m * a + g * b);
                }
            }};
        }
        match (s1, s2) {
            (CpuStorage::F32(m), CpuStorage::F32(g)) => run!(m, g, f32),
            (CpuStorage::F64(m), CpuStorage::F64(g)) => run!(m, g, f64),
            _ => candle_core::bail!("adam: f32 or f64 parameters of one dtype expected"),
        }
        Ok(())
    }
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "adam-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        macro_rules! run {
            ($p:expr, $m:expr, $v:expr, $t:ty) => {{
                let (p, m, v) = (elements_mut($p, l1)?, elements($m, l2)?, elements($v, l3)?);
                let step = self.step_size as $t;
                let scale = self.inv_sqrt_correction2 as $t;
                let eps = self.eps as $t;
                for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
                    *p -= step * m / (v.sqrt() * scale + eps);
                }
            }};
        }
        match (s1, s2, s3) {
            (CpuStorage::F32(p), CpuStorage::F32(m), CpuStorage::F32(v)) => run!(p, m, v, f32),
            (CpuStorage::F64(p), CpuStorage::F64(m), CpuStorage::F64(v)) => run!(p, m, v, f64),
            _ => candle_core::bail!("adam: f32 or f64 parameters of one dtype expected"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Adam on f(x) = Σ xᵢ² / 2 against the update rule computed by hand in f64.
    #[test]
    fn matches_the_update_rule() {
        let x = Var::new(&[1.0f64, -2.0, 0.5], &Device::Cpu).unwrap();
        let config = AdamConfig {
            lr: 0.1,
            ..AdamConfig::default()
        };
        let mut adam = Adam::new(vec![x.clone()], config).unwrap();
        let mut want = [1.0f64, -2.0, 0.5];
        let (mut m, mut v) = ([0.0f64; 3], [0.0f64; 3]);
        for t in 1..=5 {
            let loss = (x.sqr().unwrap().sum_all().unwrap() * 0.5).unwrap();
            adam.step(&loss.backward().unwrap()).unwrap();
            for i in 0..3 {
                let g = want[i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let mhat = m[i] / (1.0 - 0.9f64.powi(t));
                let vhat = v[i] / (1.0 - 0.999f64.powi(t));
                want[i] -= 0.1 * mhat / (vhat.sqrt() + 1e-8);
            }
        }
        let got: Vec<f64> = x.to_vec1().unwrap();
        for i in 0..3 {
            assert!((got[i] - want[i]).abs() < 1e-12, "{got:?} vs {want:?}");
        }
        assert_eq!(adam.steps(), 5);
        let m_got: Vec<f64> = adam.first_moments()[0].to_vec1().unwrap();
        assert!((m_got[0] - m[0]).abs() < 1e-12);
        // The moments must not hold on to autograd history (that leaked every step's graph).
        assert!(!adam.first_moments()[0].track_op());
        assert!(!adam.second_moments()[0].track_op());
    }

    #[test]
    fn first_step_moves_each_parameter_by_about_lr() {
        let x = Var::new(&[3.0f32, -0.001], &Device::Cpu).unwrap();
        let mut adam = Adam::new(
            vec![x.clone()],
            AdamConfig {
                lr: 0.01,
                ..AdamConfig::default()
            },
        )
        .unwrap();
        let loss = x.sqr().unwrap().sum_all().unwrap();
        adam.step(&loss.backward().unwrap()).unwrap();
        let got: Vec<f32> = x.to_vec1().unwrap();
        assert!(
            (got[0] - 2.99).abs() < 1e-5 && (got[1] - 0.009).abs() < 1e-5,
            "{got:?}"
        );
    }
}
