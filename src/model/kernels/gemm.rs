//! Single-threaded matrix products on strided slices, through the `gemm` crate (what candle
//! uses inside; AVX-512 kernels are picked at run time where the CPU has them).

use gemm::Parallelism;
use num_traits::Float;

/// Row and column strides of a matrix in a slice.
pub type Strides = (isize, isize);

/// Row-major strides of a matrix with `cols` columns.
pub fn rows(cols: usize) -> Strides {
    (cols as isize, 1)
}

/// Strides that read a row-major matrix with `cols` columns as its transpose.
pub fn transposed(cols: usize) -> Strides {
    (1, cols as isize)
}

/// `dst (m×n, row-major) = [dst +] lhs (m×k) · rhs (k×n)`, one thread.
///
/// # Panics
/// When a slice is too short for the matrix its strides describe.
pub fn matmul<T: Float + 'static>(
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], Strides),
    rhs: (&[T], Strides),
    (m, n, k): (usize, usize, usize),
) {
    matmul_into((dst, n), accumulate, lhs, rhs, (m, n, k))
}

/// [`matmul`] into a destination whose rows are `dst_stride` apart (`dst_stride ≥ n`); the
/// elements between rows are left alone.
///
/// # Panics
/// When a slice is too short for the matrix its strides describe.
pub fn matmul_into<T: Float + 'static>(
    (dst, dst_stride): (&mut [T], usize),
    accumulate: bool,
    (lhs, lhs_strides): (&[T], Strides),
    (rhs, rhs_strides): (&[T], Strides),
    (m, n, k): (usize, usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst_stride >= n, "matmul: destination rows overlap");
    assert!(
        span(rows(dst_stride), m, n) <= dst.len(),
        "matmul: destination too short"
    );
    assert!(
        span(lhs_strides, m, k) <= lhs.len(),
        "matmul: lhs too short"
    );
    assert!(
        span(rhs_strides, k, n) <= rhs.len(),
        "matmul: rhs too short"
    );
    let (lhs_rs, lhs_cs) = lhs_strides;
    let (rhs_rs, rhs_cs) = rhs_strides;
    // SAFETY: the assertions above keep every index the strides reach inside the slices, the
    // destination's rows do not overlap, and `dst` is a distinct `&mut` borrow, so it aliases
    // neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// One past the largest index a `rows×cols` matrix with non-negative `strides` touches.
fn span((rs, cs): Strides, rows: usize, cols: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_with_plain_and_transposed_operands() {
        // a (2×3), b (3×2); aᵀ is read from a 3×2 buffer.
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0f64, 0.5, -1.0, 2.0, 0.0, 1.0];
        let mut c = [0.0; 4];
        matmul(&mut c, false, (&a, rows(3)), (&b, rows(2)), (2, 2, 3));
        assert_eq!(c, [-1.0, 7.5, -1.0, 18.0]);
        matmul(&mut c, true, (&a, rows(3)), (&b, rows(2)), (2, 2, 3));
        assert_eq!(c, [-2.0, 15.0, -2.0, 36.0]);
        let at = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0];
        matmul(
            &mut c,
            false,
            (&at, transposed(2)),
            (&b, rows(2)),
            (2, 2, 3),
        );
        assert_eq!(c, [-1.0, 7.5, -1.0, 18.0]);
        // Into rows 3 apart: the third column is left alone.
        let mut wide = [9.0; 6];
        matmul_into(
            (&mut wide, 3),
            false,
            (&a, rows(3)),
            (&b, rows(2)),
            (2, 2, 3),
        );
        assert_eq!(wide, [-1.0, 7.5, 9.0, -1.0, 18.0, 9.0]);
    }
}
