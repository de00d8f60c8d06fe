//! Parameter counts of a stacked recurrent network with a linear output layer, part by part,
//! in the two conventions in use: the textbook one (one bias vector per gate group and layer)
//! and PyTorch's and candle's (two: `b_ih` and `b_hh`). A 2-layer RNN with input 1, 3 hidden
//! units and output 1 has 40 parameters in the first and 46 in the second.

use crate::spec::Cell;

/// The parameters of one recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerCount {
    /// Rows of each weight matrix: gate groups × hidden units.
    pub rows: usize,
    /// Inputs of the layer (the input size for the first, the hidden size above it).
    pub inputs: usize,
    /// Hidden units.
    pub hidden: usize,
}

impl LayerCount {
    /// Input→hidden weights (`weight_ih`, rows × inputs).
    pub fn input_weights(&self) -> usize {
        self.rows * self.inputs
    }

    /// Hidden→hidden weights (`weight_hh`, rows × hidden).
    pub fn hidden_weights(&self) -> usize {
        self.rows * self.hidden
    }

    /// Bias scalars: `rows` in the textbook convention, twice that in PyTorch's.
    pub fn biases(&self, convention: Convention) -> usize {
        self.rows * convention.bias_vectors()
    }

    /// Everything in this layer.
    pub fn total(&self, convention: Convention) -> usize {
        self.input_weights() + self.hidden_weights() + self.biases(convention)
    }
}

/// How many bias vectors a recurrent layer has per gate group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// One (`b_h` in the textbook formulas).
    Textbook,
    /// Two, `b_ih` and `b_hh`, as `torch.nn.RNN/GRU/LSTM` and candle-nn build them.
    PyTorch,
}

impl Convention {
    fn bias_vectors(self) -> usize {
        match self {
            Convention::Textbook => 1,
            Convention::PyTorch => 2,
        }
    }
}

/// The parameters of `layers` stacked `cell` layers and an output layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterCount {
    /// The recurrent cell.
    pub cell: Cell,
    /// The recurrent layers, bottom first.
    pub layers: Vec<LayerCount>,
    /// Outputs per step.
    pub outputs: usize,
}

impl ParameterCount {
    /// Counts for `layers` layers of `cell` with `hidden` units each, `inputs` per step into
    /// the first layer, and a linear layer from the top layer to `outputs` per step.
    pub fn new(
        cell: Cell,
        layers: usize,
        inputs: usize,
        hidden: usize,
        outputs: usize,
    ) -> ParameterCount {
        let rows = cell.gate_groups() * hidden;
        let layers = (0..layers)
            .map(|l| LayerCount {
                rows,
                inputs: if l == 0 { inputs } else { hidden },
                hidden,
            })
            .collect();
        ParameterCount {
            cell,
            layers,
            outputs,
        }
    }

    /// Hidden units of the top layer (0 without layers).
    fn top_hidden(&self) -> usize {
        self.layers.last().map_or(0, |l| l.hidden)
    }

    /// Output weights (outputs × hidden).
    pub fn output_weights(&self) -> usize {
        self.outputs * self.top_hidden()
    }

    /// Output bias.
    pub fn output_bias(&self) -> usize {
        self.outputs
    }

    /// The whole network.
    pub fn total(&self, convention: Convention) -> usize {
        self.layers
            .iter()
            .map(|l| l.total(convention))
            .sum::<usize>()
            + self.output_weights()
            + self.output_bias()
    }
}

/// Trainable parameters of the language model sweep trains for `cell`, `layers` and `hidden`
/// on a `vocab`-character vocabulary: the `vocab × vocab` embedding, the recurrent layers
/// (PyTorch convention) and the output layer back to `vocab`.
pub fn language_model(cell: Cell, layers: usize, vocab: usize, hidden: usize) -> usize {
    vocab * vocab
        + ParameterCount::new(cell, layers, vocab, hidden, vocab).total(Convention::PyTorch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textbook_example_has_40_or_46() {
        let c = ParameterCount::new(Cell::Rnn, 2, 1, 3, 1);
        assert_eq!(c.total(Convention::Textbook), 40);
        assert_eq!(c.total(Convention::PyTorch), 46);
        // Layer 1: 3 + 9 + 3; layer 2: 9 + 9 + 3; output 3 + 1.
        assert_eq!(c.layers[0].total(Convention::Textbook), 15);
        assert_eq!(c.layers[1].total(Convention::Textbook), 21);
        assert_eq!((c.output_weights(), c.output_bias()), (3, 1));
    }

    /// Against `sum(p.numel() for p in torch.nn.GRU(10, 20, 2).parameters())` and the same for
    /// LSTM and RNN, as torch 2.15 prints them: 4,440 (GRU), 5,920 (LSTM), 1,480 (RNN).
    #[test]
    fn gated_cells_count_every_gate_like_pytorch() {
        let recurrent = |cell| ParameterCount::new(cell, 2, 10, 20, 0).total(Convention::PyTorch);
        assert_eq!(recurrent(Cell::Gru), 4_440);
        assert_eq!(recurrent(Cell::Lstm), 5_920);
        assert_eq!(recurrent(Cell::Rnn), 1_480);
    }
}
