//! Fused CPU kernels behind candle custom ops: the whole tanh recurrence over a sequence
//! ([`recurrence`]), the output layer with its softmax cross-entropy ([`head`]), and both as
//! one training loss ([`rnn_loss`]): loops of `gemm` calls on contiguous buffers instead of
//! dozens of small candle ops per step.
//!
//! A batch is cut into row blocks of a size fixed by the batch alone ([`blocks`]); blocks are
//! independent, so they can run on several threads when cores are idle (the tail of a sweep)
//! and the results are bit-identical whatever the number of threads.

pub mod blocks;
pub mod cell_loss;
pub mod cells;
pub mod gemm;
pub mod head;
pub mod recurrence;
pub mod rnn_loss;
pub mod tanh;

use candle_core::{CpuStorage, Layout, Result, Shape, WithDType};
use num_traits::Float;

pub use blocks::{set_thread_budget, thread_budget, Blocks};

/// Float types the kernels run on (f32 for training, f64 for exact tests).
pub trait Elem:
    Float + num_traits::NumAssign + tanh::SliceTanh + WithDType + Send + Sync + 'static
{
}
impl Elem for f32 {}
impl Elem for f64 {}

/// A computation over `N` contiguous input slices of one float type, producing one buffer.
pub(crate) trait SliceKernel<const N: usize> {
    /// Name used in errors.
    fn name(&self) -> &'static str;

    /// Computes the output and its shape from inputs of the given shapes.
    fn run<T: Elem>(&self, inputs: [&[T]; N], shapes: [&Shape; N]) -> Result<(Vec<T>, Shape)>;
}

/// The `cpu_fwd` of a candle custom op with 2 or 3 inputs whose work is its own
/// [`SliceKernel`].
macro_rules! cpu_fwd_by_kernel {
    (2) => {
        fn cpu_fwd(
            &self,
            s1: &candle_core::CpuStorage,
            l1: &candle_core::Layout,
            s2: &candle_core::CpuStorage,
            l2: &candle_core::Layout,
        ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
            $crate::model::kernels::run_kernel(self, [(s1, l1), (s2, l2)])
        }
    };
    (3) => {
        fn cpu_fwd(
            &self,
            s1: &candle_core::CpuStorage,
            l1: &candle_core::Layout,
            s2: &candle_core::CpuStorage,
            l2: &candle_core::Layout,
            s3: &candle_core::CpuStorage,
            l3: &candle_core::Layout,
        ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
            $crate::model::kernels::run_kernel(self, [(s1, l1), (s2, l2), (s3, l3)])
        }
    };
}
pub(crate) use cpu_fwd_by_kernel;

/// Runs `kernel` on candle CPU storages: checks that the inputs are contiguous and share one
/// float type, and dispatches on it.
pub(crate) fn run_kernel<K: SliceKernel<N>, const N: usize>(
    kernel: &K,
    inputs: [(&CpuStorage, &Layout); N],
) -> Result<(CpuStorage, Shape)> {
    fn slices<'a, T: WithDType, const N: usize>(
        name: &str,
        inputs: &[(&'a CpuStorage, &'a Layout); N],
    ) -> Result<[&'a [T]; N]> {
        let mut out: [&[T]; N] = [&[]; N];
        for (i, (storage, layout)) in inputs.iter().enumerate() {
            let data = storage.as_slice::<T>().map_err(|_| {
                candle_core::Error::Msg(format!("{name}: inputs must share one float type"))
            })?;
            out[i] = match layout.contiguous_offsets() {
                Some((start, end)) => &data[start..end],
                None => candle_core::bail!("{name}: input {i} must be contiguous"),
            };
        }
        Ok(out)
    }
    let shapes = inputs.each_ref().map(|(_, l)| l.shape());
    match inputs[0].0 {
        CpuStorage::F32(_) => {
            let (v, s) = kernel.run(slices::<f32, N>(kernel.name(), &inputs)?, shapes)?;
            Ok((CpuStorage::F32(v), s))
        }
        CpuStorage::F64(_) => {
            let (v, s) = kernel.run(slices::<f64, N>(kernel.name(), &inputs)?, shapes)?;
            Ok((CpuStorage::F64(v), s))
        }
        _ => candle_core::bail!("{}: f32 or f64 inputs expected", kernel.name()),
    }
}
