#!/usr/bin/env python3
"""The PyTorch reference recipe that sweep reimplements in candle, for side-by-side benchmarks.

Same corpus preprocessing, vocabulary, 90/10 split, batches (one random start, `batch`
consecutive windows of 35 characters), model (Embedding(V, V) -> RNN(V, H, tanh) -> Linear(H, V),
zero initial state), mean cross-entropy and Adam (lr 0.01). One thread.

  reference.py throughput [--steps N] [--only HxB] [--cell rnn|gru|lstm]
                                             steps/s per hidden x batch config (median of 3)
  reference.py train HIDDEN BATCH STEPS SEED held-out perplexity after STEPS steps
"""
import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

torch.set_num_threads(1)
SEQ = 35
CORPUS = Path(__file__).resolve().parent.parent / "data" / "timemachine.txt"


def load():
    lines = CORPUS.read_text(encoding="utf-8").lower().split("\n")
    text = "".join(line.strip() for line in lines if line.strip())
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    tokens = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = len(tokens) * 9 // 10
    return tokens[:split], tokens[split:], len(vocab)


class CharRnn(nn.Module):
    def __init__(self, vocab, hidden, cell="rnn"):
        super().__init__()
        self.embedding = nn.Embedding(vocab, vocab)
        self.rnn = getattr(nn, cell.upper())(vocab, hidden, batch_first=True)
        self.output = nn.Linear(hidden, vocab)

    def forward(self, x):
        states, _ = self.rnn(self.embedding(x))
        return self.output(states)


def batch(train, size, rng):
    start = rng.randint(0, len(train) - size * SEQ - 1)
    x = train[start : start + size * SEQ].view(size, SEQ)
    y = train[start + 1 : start + size * SEQ + 1].view(size, SEQ)
    return x, y


def make(hidden, vocab, seed, cell="rnn"):
    torch.manual_seed(seed)
    model = CharRnn(vocab, hidden, cell)
    return model, torch.optim.Adam(model.parameters(), lr=0.01)


def step(model, opt, x, y, vocab):
    logits = model(x)
    loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def heldout(model, tail, vocab):
    windows = (len(tail) - 1) // SEQ
    x = tail[: windows * SEQ].view(windows, SEQ)
    y = tail[1 : windows * SEQ + 1].view(windows, SEQ)
    with torch.no_grad():
        loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
    return math.exp(loss.item())


def throughput(steps, only=None, cell="rnn"):
    train, _, vocab = load()
    print("| hidden \\ batch | 16 | 32 | 64 |")
    print("|---|---|---|---|")
    for hidden in (128, 200, 300):
        cells = []
        for size in (16, 32, 64):
            if only and only != f"{hidden}x{size}":
                cells.append("-")
                continue
            rates = []
            for _ in range(3):
                model, opt = make(hidden, vocab, 0, cell)
                rng = random.Random(0)
                for _ in range(5):
                    step(model, opt, *batch(train, size, rng), vocab)
                start = time.perf_counter()
                for _ in range(steps):
                    step(model, opt, *batch(train, size, rng), vocab)
                rates.append(steps / (time.perf_counter() - start))
            cells.append(f"{statistics.median(rates):.0f}")
        print(f"| {hidden} | " + " | ".join(cells) + " |")


def train_one(hidden, size, steps, seed):
    train, tail, vocab = load()
    model, opt = make(hidden, vocab, seed)
    rng = random.Random(seed)
    for _ in range(steps):
        step(model, opt, *batch(train, size, rng), vocab)
    print(f"{heldout(model, tail, vocab):.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--steps", type=int, default=60)
    t.add_argument("--only", help="one configuration, e.g. 300x64")
    t.add_argument("--cell", default="rnn", choices=["rnn", "gru", "lstm"])
    r = sub.add_parser("train")
    for name in ("hidden", "batch", "steps", "seed"):
        r.add_argument(name, type=int)
    a = p.parse_args()
    if a.cmd == "throughput":
        throughput(a.steps, a.only, a.cell)
    else:
        train_one(a.hidden, a.batch, a.steps, a.seed)


if __name__ == "__main__":
    sys.exit(main())
