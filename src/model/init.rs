//! Parameter initialisation as PyTorch's defaults, drawn from a seeded generator.

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

/// A variable of `shape` with entries drawn from N(0, 1) (`nn.Embedding`).
pub fn normal(shape: &[usize], dtype: DType, device: &Device, rng: &mut impl Rng) -> Result<Var> {
    let n = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    var(values, shape, dtype, device)
}

/// A variable of `shape` with entries drawn from U(-bound, bound) (`nn.RNN`, `nn.Linear`).
pub fn uniform(
    shape: &[usize],
    bound: f64,
    dtype: DType,
    device: &Device,
    rng: &mut impl Rng,
) -> Result<Var> {
    let n = shape.iter().product();
    let dist = Uniform::new_inclusive(-bound, bound).expect("finite bound");
    let values: Vec<f64> = (0..n).map(|_| dist.sample(rng)).collect();
    var(values, shape, dtype, device)
}

fn var(values: Vec<f64>, shape: &[usize], dtype: DType, device: &Device) -> Result<Var> {
    Var::from_tensor(&Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn uniform_stays_in_bounds_and_normal_has_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let u = uniform(&[100, 100], 0.25, DType::F32, &Device::Cpu, &mut rng).unwrap();
        let u: Vec<f32> = u.flatten_all().unwrap().to_vec1().unwrap();
        assert!(u.iter().all(|x| x.abs() <= 0.25));
        assert!(u.iter().any(|x| *x > 0.24) && u.iter().any(|x| *x < -0.24));
        let n = normal(&[100, 100], DType::F64, &Device::Cpu, &mut rng).unwrap();
        let n: Vec<f64> = n.flatten_all().unwrap().to_vec1().unwrap();
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let var = n.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.len() as f64;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
