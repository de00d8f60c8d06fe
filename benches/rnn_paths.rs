//! The two fused paths of a one-layer tanh RNN, side by side: `RnnLm` (its own op,
//! `kernels/rnn_loss.rs` + `recurrence.rs`) against `StackedLm` with one layer (the op every
//! other cell and depth uses, `kernels/cell_loss.rs` with `cells::Rnn`). Run with
//! `cargo bench --bench rnn_paths`; `STEPS=N` sets the timed steps per run (default 60).
//!
//! At each of the nine grid points the two alternate for three rounds (so a slow spell of a
//! shared machine hits both alike); each round times 5 warm-up steps, then `STEPS` steps, on
//! one thread; the table shows each path's median steps/s and the ratio cell / rnn.

use std::time::Instant;

use sweep::data::{batch::Split, Corpus, Vocab};
use sweep::model::{LanguageModel, RnnLm, StackedLm};
use sweep::spec::{Cell, TrainParams};
use sweep::train::Trainer;

fn rate(trainer: &mut Trainer, split: &Split, steps: usize) -> f64 {
    for _ in 0..5 {
        trainer.step(&split.train).unwrap();
    }
    let start = Instant::now();
    for _ in 0..steps {
        trainer.step(&split.train).unwrap();
    }
    steps as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let steps: usize = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let corpus = Corpus::builtin();
    let vocab = Vocab::from_text(&corpus.text);
    let v = vocab.len();
    let split = Split::new(vocab.encode(&corpus.text));
    println!("| hidden × batch | RnnLm steps/s | StackedLm (1 layer) steps/s | stacked / rnn |");
    println!("|---|---|---|---|");
    for hidden in [128, 200, 300] {
        for batch_size in [16, 32, 64] {
            let params = TrainParams {
                hidden,
                batch_size,
                steps: usize::MAX,
                eval_every: usize::MAX,
                ..TrainParams::default()
            };
            let (mut rnn, mut stacked) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                let mut t = Trainer::with_model(&params, |rng, device| {
                    let m: Box<dyn LanguageModel> =
                        Box::new(RnnLm::new(v, hidden, candle_core::DType::F32, device, rng)?);
                    Ok(m)
                })
                .unwrap();
                rnn.push(rate(&mut t, &split, steps));
                let mut t = Trainer::with_model(&params, |rng, device| {
                    let m: Box<dyn LanguageModel> = Box::new(StackedLm::new(
                        Cell::Rnn,
                        1,
                        v,
                        hidden,
                        candle_core::DType::F32,
                        device,
                        rng,
                    )?);
                    Ok(m)
                })
                .unwrap();
                stacked.push(rate(&mut t, &split, steps));
            }
            let (a, b) = (median(rnn), median(stacked));
            println!(
                "| {hidden} × {batch_size} | {a:.0} | {b:.0} | {:.2} |",
                b / a
            );
        }
    }
}
