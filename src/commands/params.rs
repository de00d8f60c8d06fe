//! `sweep params`: the parameter count of a recurrent network, part by part, in both bias
//! conventions, as a Markdown table.

use super::exit;
use crate::cli::ParamsArgs;
use crate::model::count::{Convention, ParameterCount};
use crate::report::numbers;
use crate::spec::Cell;

/// Prints the table for `args`.
pub fn run(args: &ParamsArgs) -> anyhow::Result<u8> {
    let count = ParameterCount::new(args.cell, args.layers, args.input, args.hidden, args.output);
    print!("{}", table(&count));
    Ok(exit::OK)
}

/// The breakdown of `count`: one row per weight matrix and bias, then the totals.
pub fn table(count: &ParameterCount) -> String {
    use Convention::{PyTorch, Textbook};
    let name = count.cell.name().to_uppercase();
    let gates = match count.cell {
        Cell::Rnn => "one group of weights per layer".to_string(),
        Cell::Gru => "3 gate groups per layer (reset, update, new), stacked as PyTorch does".into(),
        Cell::Lstm => {
            "4 gate groups per layer (input, forget, cell, output), stacked as PyTorch does".into()
        }
    };
    let mut out = format!(
        "{name}, {} of {}, {} and {} per step: {gates}.\n\n",
        numbers::count(count.layers.len(), "layer"),
        numbers::count(count.layers.first().map_or(0, |l| l.hidden), "hidden unit"),
        numbers::count(count.layers.first().map_or(0, |l| l.inputs), "input"),
        numbers::count(count.outputs, "output"),
    );
    out += "| part | shape | textbook (one bias) | PyTorch / candle (b_ih + b_hh) |\n";
    out += "|---|---|---|---|\n";
    for (i, l) in count.layers.iter().enumerate() {
        let n = i + 1;
        let w = l.input_weights();
        let (r, c) = (l.rows, l.inputs);
        out += &format!("| layer {n} input→hidden weights | {r}×{c} | {w} | {w} |\n");
        let w = l.hidden_weights();
        out += &format!(
            "| layer {n} hidden→hidden weights | {r}×{} | {w} | {w} |\n",
            l.hidden
        );
        let (a, b) = (l.biases(Textbook), l.biases(PyTorch));
        out += &format!("| layer {n} biases | {r} | {a} | {b} |\n");
    }
    let (w, b) = (count.output_weights(), count.output_bias());
    let top = count.layers.last().map_or(0, |l| l.hidden);
    out += &format!("| output weights | {}×{top} | {w} | {w} |\n", count.outputs);
    out += &format!("| output bias | {b} | {b} | {b} |\n");
    out += &format!(
        "| **total** | | **{}** | **{}** |\n",
        count.total(Textbook),
        count.total(PyTorch)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textbook_example_reads_40_and_46() {
        let t = table(&ParameterCount::new(Cell::Rnn, 2, 1, 3, 1));
        assert!(
            t.starts_with("RNN, 2 layers of 3 hidden units, 1 input and 1 output per step: "),
            "{t}"
        );
        assert!(
            t.contains("| layer 1 input→hidden weights | 3×1 | 3 | 3 |"),
            "{t}"
        );
        assert!(
            t.contains("| layer 2 input→hidden weights | 3×3 | 9 | 9 |"),
            "{t}"
        );
        assert!(t.contains("| layer 2 biases | 3 | 3 | 6 |"), "{t}");
        assert!(t.contains("| output weights | 1×3 | 3 | 3 |"), "{t}");
        assert!(t.ends_with("| **total** | | **40** | **46** |\n"), "{t}");
        let lstm = table(&ParameterCount::new(Cell::Lstm, 1, 1, 3, 1));
        assert!(
            lstm.starts_with("LSTM, 1 layer of 3 hidden units, 1 input and 1 output per step: "),
            "{lstm}"
        );
        let gru = table(&ParameterCount::new(Cell::Gru, 3, 44, 1, 44));
        assert!(
            gru.starts_with("GRU, 3 layers of 1 hidden unit, 44 inputs and 44 outputs per step: "),
            "{gru}"
        );
        assert!(
            lstm.contains("| layer 1 hidden→hidden weights | 12×3 | 36 | 36 |"),
            "{lstm}"
        );
    }
}
