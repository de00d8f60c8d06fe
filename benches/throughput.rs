//! Training throughput per configuration (steps/s, one thread), the numbers the speed work is
//! judged by. Run with `cargo bench --bench throughput`; `STEPS=N` sets the measured steps.
//!
//! Each configuration trains a few warm-up steps, then `STEPS` timed steps; the table reports
//! the median of three such runs. `ONLY=300x64` measures one configuration (for profiling);
//! `CELL=gru` (or `lstm`) another cell.

use std::time::Instant;

use sweep::data::{batch::Split, Corpus, Vocab};
use sweep::spec::{Cell, TrainParams};
use sweep::train::Trainer;

fn main() {
    // One thread per trial, as the sweep runs them (candle reads this at every matmul).
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let steps: usize = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let only = std::env::var("ONLY").ok();
    let cell = std::env::var("CELL").map_or(Cell::Rnn, |c| {
        Cell::from_name(&c).unwrap_or_else(|| panic!("CELL must be rnn, gru or lstm, not {c}"))
    });
    let corpus = Corpus::builtin();
    let vocab = Vocab::from_text(&corpus.text);
    let split = Split::new(vocab.encode(&corpus.text));
    println!("| hidden \\ batch | 16 | 32 | 64 |");
    println!("|---|---|---|---|");
    for hidden in [128, 200, 300] {
        let mut cells = Vec::new();
        for batch_size in [16, 32, 64] {
            if only
                .as_ref()
                .is_some_and(|o| *o != format!("{hidden}x{batch_size}"))
            {
                cells.push("-".to_string());
                continue;
            }
            let params = TrainParams {
                cell,
                hidden,
                batch_size,
                steps: usize::MAX,
                eval_every: usize::MAX,
                ..TrainParams::default()
            };
            let mut rates: Vec<f64> = (0..3)
                .map(|_| {
                    let mut trainer = Trainer::new(&params, vocab.len()).unwrap();
                    for _ in 0..5 {
                        trainer.step(&split.train).unwrap();
                    }
                    let start = Instant::now();
                    for _ in 0..steps {
                        trainer.step(&split.train).unwrap();
                    }
                    steps as f64 / start.elapsed().as_secs_f64()
                })
                .collect();
            rates.sort_by(f64::total_cmp);
            cells.push(format!("{:.0}", rates[1]));
        }
        println!("| {hidden} | {} |", cells.join(" | "));
    }
}
