//! The contiguous elements of a candle CPU storage, for the optimizers' in-place updates.

use candle_core::{Layout, Result};

/// The elements `layout` describes, which must be contiguous.
pub fn elements<'a, T>(data: &'a [T], layout: &Layout) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("optimizer: tensors must be contiguous"),
    }
}

/// The elements `layout` describes, which must be contiguous, for writing.
pub fn elements_mut<'a, T>(data: &'a mut [T], layout: &Layout) -> Result<&'a mut [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => candle_core::bail!("optimizer: tensors must be contiguous"),
    }
}
