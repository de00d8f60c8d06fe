//! Test helper: a model's gradients against central finite differences, in f64.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::LanguageModel;

/// Checks `samples` random entries of every parameter's gradient of `m.loss(x, y)` (an f64
/// model) against `(loss(p + ε) - loss(p - ε)) / 2ε`, within 1e-7 + 1e-5 relative.
pub fn assert_gradients_match(m: &dyn LanguageModel, x: &Tensor, y: &Tensor, samples: usize) {
    let grads = m.loss(x, y).unwrap().backward().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let eps = 1e-6;
    for (name, var) in m.parameters() {
        let flat = |t: &Tensor| -> Vec<f64> { t.flatten_all().unwrap().to_vec1().unwrap() };
        let grad = flat(grads.get(var).unwrap());
        let base = flat(var.as_tensor());
        let shape = var.shape().clone();
        let set = |p: Vec<f64>| var.set(&Tensor::from_vec(p, &shape, &Device::Cpu).unwrap());
        for _ in 0..samples {
            let i = rng.random_range(0..base.len());
            let at = |delta: f64| {
                let mut p = base.clone();
                p[i] += delta;
                set(p).unwrap();
                m.loss(x, y).unwrap().to_scalar::<f64>().unwrap()
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
            set(base.clone()).unwrap();
            let tol = 1e-7 + 1e-5 * numeric.abs();
            assert!(
                (numeric - grad[i]).abs() < tol,
                "{name}[{i}]: numeric {numeric} vs autograd {}",
                grad[i]
            );
        }
    }
}
