//! Train/held-out split and batching as in the reference recipe.
//!
//! A training batch ([`sample`], `sampling: "block"`) picks one random start in the training part
//! and takes `batch_size` consecutive windows of `seq_len` characters from there;
//! [`sample_random`] (`"random"`) starts every window at its own random position;
//! [`sample_sequential`] (`"sequential"`) continues each row of the previous batch. Targets are
//! the inputs shifted by one.
//! Held-out evaluation covers the whole held-out part in consecutive windows.

use rand::Rng;

/// Lengths of the training part (first 90%) and held-out part (last 10%) of `n` tokens.
pub fn split_lengths(n: usize) -> (usize, usize) {
    let train = n * 9 / 10;
    (train, n - train)
}

/// Tokens needed in the training part for one batch (inputs plus the shifted last target).
pub fn min_train_len(batch_size: usize, seq_len: usize) -> usize {
    batch_size * seq_len + 1
}

/// The tokens of a corpus split into a training part and a held-out part.
#[derive(Debug, Clone)]
pub struct Split {
    /// First 90% of the tokens.
    pub train: Vec<u32>,
    /// Last 10% of the tokens.
    pub heldout: Vec<u32>,
}

impl Split {
    /// Splits `tokens` at 90%.
    pub fn new(mut tokens: Vec<u32>) -> Split {
        let (train, _) = split_lengths(tokens.len());
        let heldout = tokens.split_off(train);
        Split {
            train: tokens,
            heldout,
        }
    }
}

/// A batch of windows, row-major `(rows, seq_len)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Input tokens.
    pub inputs: Vec<u32>,
    /// Target tokens: each input's successor in the text.
    pub targets: Vec<u32>,
    /// Number of windows.
    pub rows: usize,
    /// Window length.
    pub seq_len: usize,
}

/// Samples a training batch: `batch_size` consecutive windows from one random start.
pub fn sample(train: &[u32], batch_size: usize, seq_len: usize, rng: &mut impl Rng) -> Batch {
    let span = batch_size * seq_len;
    assert!(
        train.len() > span,
        "training part too short for one batch (checked when the plan is built)"
    );
    let start = rng.random_range(0..=train.len() - span - 1);
    Batch {
        inputs: train[start..start + span].to_vec(),
        targets: train[start + 1..start + span + 1].to_vec(),
        rows: batch_size,
        seq_len,
    }
}

/// Samples a training batch of `batch_size` windows, each from its own random start.
pub fn sample_random(
    train: &[u32],
    batch_size: usize,
    seq_len: usize,
    rng: &mut impl Rng,
) -> Batch {
    assert!(
        train.len() > seq_len,
        "training part too short for one window (checked when the plan is built)"
    );
    let mut inputs = Vec::with_capacity(batch_size * seq_len);
    let mut targets = Vec::with_capacity(batch_size * seq_len);
    for _ in 0..batch_size {
        let start = rng.random_range(0..=train.len() - seq_len - 1);
        inputs.extend_from_slice(&train[start..start + seq_len]);
        targets.extend_from_slice(&train[start + 1..start + seq_len + 1]);
    }
    Batch {
        inputs,
        targets,
        rows: batch_size,
        seq_len,
    }
}

/// Where a sequential stream stands: the start of the current pass and its next batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCursor {
    /// Tokens skipped at the start of the training part in this pass (below `seq_len`).
    pub offset: usize,
    /// Index of the next batch within the pass.
    pub next: usize,
}

/// The next batch of `sampling: "sequential"` (d2l's `seq_data_iter_sequential`): a pass starts
/// at a random offset below `seq_len` and cuts the rest of the training part into `batch_size`
/// equal streams; batch `i` of the pass holds window `i` of every stream, so row `r` of a batch
/// continues row `r` of the batch before. A new pass begins when `cursor` is `None` or the
/// pass is used up. Returns the batch and whether it starts a pass (where the carried state
/// resets).
pub fn sample_sequential(
    train: &[u32],
    batch_size: usize,
    seq_len: usize,
    cursor: &mut Option<StreamCursor>,
    rng: &mut impl Rng,
) -> (Batch, bool) {
    let span = batch_size * seq_len;
    assert!(
        train.len() > span,
        "training part too short for one batch (checked when the plan is built)"
    );
    let per_pass = |offset: usize| (train.len() - offset - 1) / batch_size / seq_len;
    let fresh = cursor.is_none_or(|c| c.next >= per_pass(c.offset));
    if fresh {
        // The offset leaves room for at least one window per stream.
        let most = (seq_len - 1).min(train.len() - 1 - span);
        *cursor = Some(StreamCursor {
            offset: rng.random_range(0..=most),
            next: 0,
        });
    }
    let c = cursor.as_mut().expect("set above");
    let stream_len = (train.len() - c.offset - 1) / batch_size;
    let mut inputs = Vec::with_capacity(span);
    let mut targets = Vec::with_capacity(span);
    for r in 0..batch_size {
        let start = c.offset + r * stream_len + c.next * seq_len;
        inputs.extend_from_slice(&train[start..start + seq_len]);
        targets.extend_from_slice(&train[start + 1..start + seq_len + 1]);
    }
    c.next += 1;
    let batch = Batch {
        inputs,
        targets,
        rows: batch_size,
        seq_len,
    };
    (batch, fresh)
}

/// The held-out part as consecutive non-overlapping windows, at most `max_rows` per batch.
pub fn heldout_batches(heldout: &[u32], seq_len: usize, max_rows: usize) -> Vec<Batch> {
    let windows = heldout.len().saturating_sub(1) / seq_len;
    (0..windows)
        .step_by(max_rows)
        .map(|first| {
            let rows = max_rows.min(windows - first);
            let start = first * seq_len;
            let span = rows * seq_len;
            Batch {
                inputs: heldout[start..start + span].to_vec(),
                targets: heldout[start + 1..start + span + 1].to_vec(),
                rows,
                seq_len,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn split_is_90_10() {
        let s = Split::new((0..1000).collect());
        assert_eq!(s.train.len(), 900);
        assert_eq!(s.heldout[0], 900);
        assert_eq!(split_lengths(175_758), (158_182, 17_576));
    }

    #[test]
    fn windows_are_consecutive_and_targets_shifted_by_one() {
        let train: Vec<u32> = (0..500).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let b = sample(&train, 4, 7, &mut rng);
            assert_eq!((b.rows, b.seq_len), (4, 7));
            assert_eq!(b.inputs.len(), 28);
            let start = b.inputs[0];
            // Token values equal positions here, so consecutive windows mean consecutive values.
            assert_eq!(b.inputs, (start..start + 28).collect::<Vec<_>>());
            assert_eq!(b.targets, (start + 1..start + 29).collect::<Vec<_>>());
            assert!(*b.targets.last().unwrap() < 500);
        }
    }

    #[test]
    fn sampling_reaches_both_ends_of_the_training_part() {
        let train: Vec<u32> = (0..40).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let starts: Vec<u32> = (0..2000)
            .map(|_| sample(&train, 2, 5, &mut rng).inputs[0])
            .collect();
        assert_eq!(starts.iter().min(), Some(&0));
        assert_eq!(
            starts.iter().max(),
            Some(&29),
            "last start leaves room for the shifted target"
        );
    }

    #[test]
    fn random_windows_start_independently_and_reach_both_ends() {
        let train: Vec<u32> = (0..40).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut starts = Vec::new();
        let mut apart = 0;
        for _ in 0..500 {
            let b = sample_random(&train, 3, 5, &mut rng);
            assert_eq!((b.rows, b.inputs.len(), b.targets.len()), (3, 15, 15));
            for w in 0..3 {
                let row = &b.inputs[w * 5..w * 5 + 5];
                assert_eq!(row, (row[0]..row[0] + 5).collect::<Vec<_>>());
                assert_eq!(b.targets[w * 5], row[0] + 1);
                starts.push(row[0]);
            }
            apart += usize::from(b.inputs[5] != b.inputs[4] + 1);
        }
        assert_eq!(starts.iter().min(), Some(&0));
        assert_eq!(starts.iter().max(), Some(&34));
        assert!(apart > 400, "windows are not laid end to end: {apart}/500");
    }

    #[test]
    fn sampling_is_deterministic_per_seed() {
        let train: Vec<u32> = (0..1000).collect();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..5)
                .map(|_| sample(&train, 3, 4, &mut rng).inputs[0])
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    /// Row r of every batch continues row r of the batch before, within a pass; a pass ends
    /// when a stream has no whole window left, and the next starts at a new offset.
    #[test]
    fn sequential_batches_continue_each_row_until_the_pass_ends() {
        let train: Vec<u32> = (0..100).collect();
        let (rows, len) = (3, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut cursor = None;
        let mut offsets = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let (first, fresh) = sample_sequential(&train, rows, len, &mut cursor, &mut rng);
            assert!(fresh);
            let offset = cursor.unwrap().offset;
            assert!(offset < len);
            offsets.insert(offset);
            // Streams of (100 - offset - 1) / 3 tokens, each holding whole windows of 4.
            let per_pass = (100 - offset - 1) / rows / len;
            let mut previous = first;
            for i in 1..per_pass {
                let (b, fresh) = sample_sequential(&train, rows, len, &mut cursor, &mut rng);
                assert!(!fresh, "batch {i} of {per_pass}");
                for r in 0..rows {
                    let row = &b.inputs[r * len..][..len];
                    assert_eq!(row[0], previous.inputs[r * len + len - 1] + 1);
                    assert_eq!(
                        b.targets[r * len..][..len],
                        row.iter().map(|x| x + 1).collect::<Vec<_>>()
                    );
                }
                previous = b;
            }
            assert_eq!(cursor.unwrap().next, per_pass);
        }
        assert_eq!(
            offsets.len(),
            len,
            "every offset below seq_len occurs: {offsets:?}"
        );
    }

    #[test]
    fn heldout_batches_cover_the_tail_in_order() {
        let heldout: Vec<u32> = (0..100).collect();
        let batches = heldout_batches(&heldout, 7, 5);
        // (100 - 1) / 7 = 14 windows: batches of 5, 5, 4.
        assert_eq!(
            batches.iter().map(|b| b.rows).collect::<Vec<_>>(),
            [5, 5, 4]
        );
        let inputs: Vec<u32> = batches.iter().flat_map(|b| b.inputs.clone()).collect();
        assert_eq!(inputs, (0..98).collect::<Vec<_>>());
        let targets: Vec<u32> = batches.iter().flat_map(|b| b.targets.clone()).collect();
        assert_eq!(targets, (1..99).collect::<Vec<_>>());
    }
}
