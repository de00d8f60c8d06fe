//! Single-threaded matrix products on strided slices, through the `gemm` crate (what candle
//! uses inside; AVX-512 kernels are picked at run time where the CPU has them).

use gemm::Parallelism;
use num_traits::Float;

/// Row and column strides of a matrix in a slice (unsigned: a matrix never runs backwards).
pub type Strides = (usize, usize);

/// Row-major strides of a matrix with `cols` columns.
pub fn rows(cols: usize) -> Strides {
    (cols, 1)
}

/// Strides that read a row-major matrix with `cols` columns as its transpose.
pub fn transposed(cols: usize) -> Strides {
    (1, cols)
}

/// `dst (m×n, row-major) = [dst +] lhs (m×k) · rhs (k×n)`, one thread.
///
/// # Panics
/// When a slice is too short for the matrix its strides describe, or the strides reach past
/// `usize::MAX` or do not fit `isize`.
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
/// As [`matmul`], and when `dst_stride < n`.
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
    check("destination", dst.len(), rows(dst_stride), m, n);
    check("lhs", lhs.len(), lhs_strides, m, k);
    check("rhs", rhs.len(), rhs_strides, k, n);
    let [dst_rs, lhs_rs, lhs_cs, rhs_rs, rhs_cs] = [
        ("destination row", dst_stride),
        ("lhs row", lhs_strides.0),
        ("lhs column", lhs_strides.1),
        ("rhs row", rhs_strides.0),
        ("rhs column", rhs_strides.1),
    ]
    .map(|(what, stride)| {
        isize::try_from(stride)
            .unwrap_or_else(|_| panic!("matmul: {what} stride {stride} does not fit isize"))
    });
    // SAFETY: `check` keeps every index the strides reach inside the slices (computed without
    // wrapping), the strides are the same values as `isize`, the destination's rows do not
    // overlap, and `dst` is a distinct `&mut` borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs,
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

/// Panics unless a `rows×cols` matrix with `strides` fits a slice of `len` elements.
fn check(what: &str, len: usize, strides: Strides, rows: usize, cols: usize) {
    let span = span(strides, rows, cols)
        .unwrap_or_else(|| panic!("matmul: {what} strides overflow usize"));
    assert!(span <= len, "matmul: {what} too short");
}

/// One past the largest index a `rows×cols` matrix with `strides` touches; `None` when that
/// does not fit `usize`.
fn span((rs, cs): Strides, rows: usize, cols: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
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
        // The last row's padding need not be there.
        let mut exact = [9.0; 5];
        matmul_into(
            (&mut exact, 3),
            false,
            (&a, rows(3)),
            (&b, rows(2)),
            (2, 2, 3),
        );
        assert_eq!(exact, [-1.0, 7.5, 9.0, -1.0, 18.0]);
    }

    /// A row stride whose span wraps to 0 in unchecked `usize` arithmetic (2·(2⁶³−1) + 1 + 1 =
    /// 2⁶⁴) would pass a wrapping length check on a 2-element slice and read far past its end.
    #[test]
    #[should_panic(expected = "matmul: lhs strides overflow usize")]
    fn a_stride_whose_span_overflows_panics() {
        let (a, b, mut c) = ([1.0f64; 2], [1.0f64; 2], [0.0f64; 3]);
        matmul(
            &mut c,
            false,
            (&a, (usize::MAX / 2, 1)),
            (&b, rows(1)),
            (3, 1, 2),
        );
    }

    #[test]
    #[should_panic(expected = "matmul: rhs strides overflow usize")]
    fn a_stride_whose_product_overflows_panics() {
        let (a, b, mut c) = ([1.0f64; 8], [1.0f64; 2], [0.0f64; 2]);
        matmul(
            &mut c,
            false,
            (&a, rows(2)),
            (&b, (usize::MAX / 2, 1)),
            (2, 1, 4),
        );
    }

    /// One row: the row stride is never multiplied, so the span fits, but gemm takes `isize`.
    #[test]
    #[should_panic(expected = "matmul: lhs row stride 9223372036854775808 does not fit isize")]
    fn a_stride_past_isize_panics() {
        let (a, b, mut c) = ([1.0f64; 2], [1.0f64; 2], [0.0f64; 1]);
        matmul(&mut c, false, (&a, (1 << 63, 1)), (&b, rows(1)), (1, 1, 2));
    }

    #[test]
    #[should_panic(expected = "matmul: lhs too short")]
    fn an_lhs_one_element_short_panics() {
        let (a, b, mut c) = ([1.0f64; 5], [1.0f64; 6], [0.0f64; 4]);
        matmul(&mut c, false, (&a, rows(3)), (&b, rows(2)), (2, 2, 3));
    }

    #[test]
    #[should_panic(expected = "matmul: rhs too short")]
    fn a_transposed_rhs_one_element_short_panics() {
        let (a, b, mut c) = ([1.0f64; 6], [1.0f64; 5], [0.0f64; 4]);
        matmul(&mut c, false, (&a, rows(3)), (&b, transposed(3)), (2, 2, 3));
    }

    #[test]
    #[should_panic(expected = "matmul: destination too short")]
    fn a_destination_one_element_short_panics() {
        // Two rows 3 apart, 2 wide: the last row ends at index 5, its padding is not needed.
        let (a, b, mut c) = ([1.0f64; 6], [1.0f64; 6], [0.0f64; 4]);
        matmul_into((&mut c, 3), false, (&a, rows(3)), (&b, rows(2)), (2, 2, 3));
    }
}
