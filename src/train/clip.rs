//! Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_`: when the L2 norm of
//! all gradients together exceeds `max_norm`, every gradient is scaled by
//! `max_norm / (norm + 1e-6)`.

use candle_core::{backprop::GradStore, DType, Result, Var};

/// Clips the gradients of `vars` in `grads` to a global norm of at most `max_norm`; returns
/// the norm before clipping.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut squares = 0.0;
    for var in vars {
        if let Some(g) = grads.get(var) {
            squares += g
                .to_dtype(DType::F64)?
                .sqr()?
                .sum_all()?
                .to_scalar::<f64>()?;
        }
    }
    let norm = squares.sqrt();
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        for var in vars {
            if let Some(g) = grads.get(var) {
                let clipped = g.affine(scale, 0.0)?;
                grads.insert(var, clipped);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn grads_of(values: &[(&[f64], f64)]) -> (GradStore, Vec<Var>) {
        // loss = Σ_i c_i · Σ x_i, so ∂loss/∂x_i = c_i everywhere.
        let vars: Vec<Var> = values
            .iter()
            .map(|(v, _)| Var::new(*v, &Device::Cpu).unwrap())
            .collect();
        let terms: Vec<candle_core::Tensor> = vars
            .iter()
            .zip(values)
            .map(|(var, (_, c))| (var.sum_all().unwrap() * *c).unwrap())
            .collect();
        let loss = terms.into_iter().reduce(|a, b| (a + b).unwrap()).unwrap();
        (loss.backward().unwrap(), vars)
    }

    fn flat(grads: &GradStore, vars: &[Var]) -> Vec<f64> {
        vars.iter()
            .flat_map(|v| grads.get(v).unwrap().to_vec1::<f64>().unwrap())
            .collect()
    }

    #[test]
    fn a_large_gradient_is_scaled_to_the_bound_in_the_same_direction() {
        // Gradients (3, 3) and (4): norm √34.
        let (mut grads, vars) = grads_of(&[(&[1.0, 2.0], 3.0), (&[5.0], 4.0)]);
        let norm = clip_grad_norm(&mut grads, &vars, 1.0).unwrap();
        assert!((norm - 34f64.sqrt()).abs() < 1e-12);
        let g = flat(&grads, &vars);
        let after = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(after <= 1.0 && after > 1.0 - 1e-5, "{after}");
        assert!((g[0] / g[2] - 0.75).abs() < 1e-12, "direction kept: {g:?}");
    }

    #[test]
    fn a_small_gradient_is_left_alone() {
        let (mut grads, vars) = grads_of(&[(&[1.0], 0.3), (&[2.0], 0.4)]);
        clip_grad_norm(&mut grads, &vars, 1.0).unwrap();
        assert_eq!(flat(&grads, &vars), [0.3, 0.4]);
    }
}
