//! The floor under a training step: the time of its matrix products alone, at one thread.
//! Run with `cargo bench --bench products` (hidden 200, batch 32, 35 steps; `HIDDEN`, `BATCH`
//! change them).
//!
//! A one-layer step of the fused loss multiplies, per time step, the state by `W_hhᵀ` (forward)
//! and `∂gates` by `W_hh` (backpropagation), and once per step of training `∂gatesᵀ` by the
//! states (`∂W_hh`): three products of `2·b·(G·H)·H` flops each per time step (`G` gate
//! groups: 1 RNN, 3 GRU, 4 LSTM), done here with the shapes and layouts the kernels use. Their
//! sum bounds training throughput from above, whatever else gets faster; the table shows it
//! next to the flop rate reached.

use std::time::Instant;

use sweep::model::kernels::gemm::{matmul, matmul_into, rows, transposed};

/// Microseconds per call of `f`, the median of 5 runs of `reps` calls.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (h, b, t) = (env("HIDDEN", 200), env("BATCH", 32), 35);
    let hp = h.next_multiple_of(16);
    println!(
        "### Matrix products per training step (hidden {h}, batch {b}, {t} steps, 1 thread)\n"
    );
    println!("| cell | forward µs × {} | backward µs × {} | ∂W_hh µs × 1 | ms per step | GFLOP/s | ceiling steps/s |", t - 1, t - 1);
    println!("|---|---|---|---|---|---|---|");
    for (name, groups) in [("rnn", 1), ("gru", 3), ("lstm", 4)] {
        let gp = groups * hp;
        let k = (t - 1) * b;
        let (h_prev, w_t, mut gates) = (values(b * hp), values(h * gp), values(b * gp));
        let forward = time(200, || {
            matmul(
                &mut gates,
                true,
                (&h_prev, rows(hp)),
                (&w_t, rows(gp)),
                (b, gp, h),
            )
        });
        let (d_gates, w_p, mut carry) = (values(b * gp), values(gp * hp), values(b * hp));
        let backward = time(200, || {
            let lhs = (&d_gates[..], rows(gp));
            matmul_into((&mut carry, hp), false, lhs, (&w_p, rows(hp)), (b, h, gp))
        });
        let (all, states, mut d_w) = (values(k * gp), values(k * hp), values(gp * hp));
        let weight = time(10, || {
            let later = (&all[..], transposed(gp));
            matmul_into(
                (&mut d_w, hp),
                false,
                later,
                (&states, rows(hp)),
                (gp, h, k),
            )
        });
        let step_ms = ((forward + backward) * (t - 1) as f64 + weight) / 1e3;
        let flops = 3.0 * 2.0 * (b * groups * h * h) as f64 * (t - 1) as f64;
        println!(
            "| {name} | {forward:.0} | {backward:.0} | {weight:.0} | {step_ms:.2} | {:.0} | {:.0} |",
            flops / step_ms / 1e6,
            1e3 / step_ms
        );
    }
}
