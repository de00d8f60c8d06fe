//! Row blocks of a batch and the threads they may use.
//!
//! Windows of a batch are independent until their gradients are summed, so a batch is cut into
//! blocks of at most [`BLOCK_ROWS`] windows, processed one after another or on several threads,
//! with per-block partial sums added in block order. The cut depends on the batch size only,
//! never on the thread count, so a trial's numbers are the same however many cores it got.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Most windows in one block (measured: 32-row blocks cost nothing on one thread, smaller ones do).
pub const BLOCK_ROWS: usize = 32;

static THREAD_BUDGET: AtomicUsize = AtomicUsize::new(1);

/// Lets the kernels of this process use up to `threads` threads (at least 1) from now on.
pub fn set_thread_budget(threads: usize) {
    THREAD_BUDGET.store(threads.max(1), Ordering::Relaxed);
}

/// Threads the kernels may use now.
pub fn thread_budget() -> usize {
    THREAD_BUDGET.load(Ordering::Relaxed)
}

/// How a batch of rows is cut into blocks: as even as possible, at most [`BLOCK_ROWS`] each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocks {
    sizes: Vec<usize>,
}

impl Blocks {
    /// The blocks of a batch of `rows` windows.
    pub fn for_rows(rows: usize) -> Blocks {
        let count = rows.div_ceil(BLOCK_ROWS).max(1);
        let sizes = (0..count)
            .map(|i| rows / count + usize::from(i < rows % count))
            .collect();
        Blocks { sizes }
    }

    /// Rows per block, in order.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Total rows.
    pub fn rows(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// `data` cut into one slice per block, `unit` elements per row.
    pub fn split<'a, T>(&self, mut data: &'a [T], unit: usize) -> Vec<&'a [T]> {
        self.sizes
            .iter()
            .map(|s| {
                let (head, rest) = data.split_at(s * unit);
                data = rest;
                head
            })
            .collect()
    }

    /// `data` cut into one mutable slice per block, `unit` elements per row.
    pub fn split_mut<'a, T>(&self, mut data: &'a mut [T], unit: usize) -> Vec<&'a mut [T]> {
        self.sizes
            .iter()
            .map(|s| {
                let (head, rest) = std::mem::take(&mut data).split_at_mut(s * unit);
                data = rest;
                head
            })
            .collect()
    }
}

/// Calls `f` on every item, spread over up to [`thread_budget`] threads; each item is processed
/// the same way wherever it runs.
pub fn for_each<W: Send>(items: &mut [W], f: impl Fn(&mut W) + Sync) {
    let threads = thread_budget().min(items.len());
    if threads <= 1 {
        items.iter_mut().for_each(f);
        return;
    }
    let f = &f;
    let per_thread = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut groups = items.chunks_mut(per_thread);
        let mine = groups.next();
        for group in groups {
            scope.spawn(move || group.iter_mut().for_each(f));
        }
        mine.into_iter().flatten().for_each(f);
    });
}

/// Like [`for_each`], where each item also adds into a zeroed buffer of `len` elements of its
/// own; returns the sum of these buffers, added in item order (so the same bits whatever the
/// thread count).
pub fn for_each_summed<T, W>(
    items: &mut [W],
    len: usize,
    f: impl Fn(&mut W, &mut [T]) + Sync,
) -> Vec<T>
where
    T: Copy + Send + num_traits::Zero + std::ops::AddAssign,
    W: Send,
{
    let mut sums = vec![vec![T::zero(); len]; items.len()];
    let mut pairs: Vec<_> = items.iter_mut().zip(sums.iter_mut()).collect();
    for_each(&mut pairs, |(item, sum)| f(item, sum));
    let mut sums = sums.into_iter();
    let mut total = sums.next().unwrap_or_else(|| vec![T::zero(); len]);
    for sum in sums {
        total.iter_mut().zip(sum).for_each(|(a, b)| *a += b);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_evenly_into_blocks_of_at_most_32() {
        assert_eq!(Blocks::for_rows(16).sizes(), [16]);
        assert_eq!(Blocks::for_rows(32).sizes(), [32]);
        assert_eq!(Blocks::for_rows(64).sizes(), [32, 32]);
        assert_eq!(Blocks::for_rows(65).sizes(), [22, 22, 21]);
        assert_eq!(Blocks::for_rows(0).sizes(), [0]);
        assert_eq!(Blocks::for_rows(65).rows(), 65);
    }

    #[test]
    fn splits_follow_the_blocks() {
        let blocks = Blocks::for_rows(65);
        let mut data: Vec<usize> = (0..130).collect();
        let parts = blocks.split(&data, 2);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [44, 44, 42]
        );
        assert_eq!(parts[1][0], 44);
        let parts = blocks.split_mut(&mut data, 2);
        assert_eq!(parts[2][41], 129);
    }

    #[test]
    fn every_item_is_processed_once_whatever_the_budget() {
        for budget in [1, 2, 3, 8] {
            set_thread_budget(budget);
            let mut items: Vec<(usize, usize)> = (0..5).map(|i| (i, 0)).collect();
            for_each(&mut items, |(i, out)| *out += *i * 10 + 1);
            assert_eq!(
                items.iter().map(|p| p.1).collect::<Vec<_>>(),
                [1, 11, 21, 31, 41]
            );
        }
        set_thread_budget(1);
    }

    #[test]
    fn summed_buffers_add_up_in_item_order() {
        set_thread_budget(2);
        let mut items = vec![1.0f32, 1e8, -1e8];
        let total = for_each_summed(&mut items, 2, |x: &mut f32, sum: &mut [f32]| {
            sum[0] += *x;
            sum[1] += 1.0;
        });
        // ((1 + 1e8) + -1e8) in f32 is 0: the order is fixed, not whichever thread ends first.
        assert_eq!(total, [0.0, 3.0]);
        set_thread_budget(1);
    }
}
