#!/usr/bin/env python3
"""The "Dive into Deep Learning" character RNN on The Time Machine, in PyTorch, as a `sweep` program.

Model: one-hot characters -> nn.RNN (tanh) / nn.GRU / nn.LSTM (`cell`, `layers` deep, `hidden`
wide) -> a linear head -> softmax over the V=27 characters. Each step trains on `batch_size`
windows of `seq_len` characters, each from its own random start in the first 90% of the text,
with a zero initial state, by cross-entropy and Adam (or plain SGD; `clip` > 0 clips the gradient
norm, as d2l does). Held-out loss: the last 10% of the text in consecutive windows of `seq_len`,
zero initial state. Preprocessing as in d2l: lowercase, each run of non-letters becomes a space.

Contract with sweep (all optional, so it also runs by hand with the defaults below):
  SWEEP_PARAMS       JSON object of hyperparameters (unknown keys are ignored)
  SWEEP_STEPS        train until the step counter (1-based) equals this; default params.steps
  SWEEP_TRIAL_DIR    where checkpoint.pt (and the one before, checkpoint.prev.pt) live;
                     default the current directory
  SWEEP_RESUME_STEP  load the checkpoint saved at this step and continue after it (absent:
                     start afresh, ignoring any checkpoint file)
stdout carries only JSON lines: every `eval_every` steps and at the last one
  {"step": 100, "train_loss": 2.1, "val_loss": 2.0, "train_ppl": 8.2, "val_ppl": 7.4}
(train_loss: the mean since the last multiple of eval_every), and {"checkpoint": n} once the checkpoint of step
n (model, optimizer, random states, step) is safely on disk: every `checkpoint_every` steps, at
the last step, and on SIGTERM (then the program exits 143). A resumed run prints exactly the
lines an uninterrupted run would have printed.

Parameters (defaults): hidden (256), batch_size (32), lr (0.01), seq_len (35), cell (rnn|gru|lstm),
layers (1), steps (1000), eval_every (100), seed (0), optimizer (adam|sgd), clip (0 = off),
checkpoint_every (= eval_every; 0 = never), device (auto|cpu|cuda|cuda:N), threads (1; 0 = torch's
choice). Needs torch >= 2.0.
"""
import argparse
import json
import math
import os
import random
import re
import signal
import sys

# Exact resume on a GPU needs deterministic kernels; cuBLAS reads this before CUDA starts.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = {
    "hidden": 256, "batch_size": 32, "lr": 0.01, "seq_len": 35, "cell": "rnn", "layers": 1,
    "steps": 1000, "eval_every": 100, "seed": 0, "optimizer": "adam", "clip": 0.0,
    "checkpoint_every": None,  # None: same as eval_every
    "device": "auto", "threads": 1,
}
INTS = ("hidden", "batch_size", "seq_len", "layers", "steps", "eval_every", "seed", "threads")
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
EVAL_ROWS = 64  # held-out windows per evaluation batch


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def read_params(args):
    """Defaults, overridden by SWEEP_PARAMS, overridden by flags given on the command line."""
    p = dict(DEFAULTS)
    given = json.loads(os.environ.get("SWEEP_PARAMS", "{}"))
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        log(f"ignoring parameters this program does not use: {', '.join(unknown)}")
    p.update({k: v for k, v in given.items() if k in DEFAULTS})
    p.update({k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None})
    for k in INTS:
        p[k] = int(p[k])
    p["lr"], p["clip"] = float(p["lr"]), float(p["clip"] or 0.0)
    p["cell"], p["optimizer"], p["device"] = str(p["cell"]), str(p["optimizer"]), str(p["device"])
    p["checkpoint_every"] = p["eval_every"] if p["checkpoint_every"] is None else int(p["checkpoint_every"])
    if p["cell"] not in CELLS:
        sys.exit(f"cell must be one of {', '.join(CELLS)}, not {p['cell']!r}")
    if p["optimizer"] not in ("adam", "sgd"):
        sys.exit(f"optimizer must be adam or sgd, not {p['optimizer']!r}")
    if min(p["hidden"], p["batch_size"], p["seq_len"], p["layers"], p["steps"], p["eval_every"]) < 1:
        sys.exit("hidden, batch_size, seq_len, layers, steps and eval_every must be at least 1")
    return p


def load_corpus(path):
    """Character ids of the text (d2l preprocessing), split 90% / 10%."""
    with open(path, encoding="utf-8") as f:
        text = re.sub("[^a-z]+", " ", f.read().lower())
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = len(ids) * 9 // 10
    return vocab, ids[:cut], ids[cut:]


class CharRNN(nn.Module):
    """One-hot input, a recurrent cell, a linear head."""

    def __init__(self, vocab_size, hidden, layers, cell):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = CELLS[cell](vocab_size, hidden, num_layers=layers)  # nn.RNN: tanh
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, X):
        """X: (batch, seq) character ids -> logits (seq, batch, V), from a zero state."""
        x = F.one_hot(X.T, self.vocab_size).float()
        out, _ = self.rnn(x)
        return self.head(out)


def ppl(loss):
    """exp(loss), inf rather than an OverflowError for a diverged model."""
    return math.exp(loss) if loss < 700 else float("inf")


def mean_loss(model, X, Y):
    logits = model(X)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.T.reshape(-1))


def sample_batch(train, rng, batch_size, seq_len):
    """batch_size windows, each from its own random start (positions from the seeded rng)."""
    starts = torch.tensor([rng.randrange(len(train) - seq_len) for _ in range(batch_size)])
    idx = starts[:, None] + torch.arange(seq_len + 1)
    windows = train[idx]
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def heldout_loss(model, heldout, seq_len, device):
    """Mean cross-entropy over the held-out part in consecutive windows of seq_len."""
    windows = (len(heldout) - 1) // seq_len
    X = heldout[: windows * seq_len].view(windows, seq_len)
    Y = heldout[1 : windows * seq_len + 1].view(windows, seq_len)
    model.eval()
    total = 0.0
    for i in range(0, windows, EVAL_ROWS):
        x, y = X[i : i + EVAL_ROWS].to(device), Y[i : i + EVAL_ROWS].to(device)
        total += mean_loss(model, x, y).item() * x.numel()
    model.train()
    return total / (windows * seq_len)


def save_checkpoint(path, prev, state):
    """torch.save to a temporary file in the same folder, fsync, rename into place.

    The previous checkpoint is kept as `prev`: if the program dies between saving and printing
    {"checkpoint": n}, sweep still names the previous step, whose file must then still exist.
    """
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if os.path.exists(path):
        os.replace(path, prev)
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself is durable
    finally:
        os.close(fd)


def load_checkpoint(paths, step):
    """The checkpoint saved at `step` from the first of `paths` that holds it; exits otherwise."""
    seen = []
    for path in paths:
        try:
            ck = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # missing, torn or not a checkpoint
            seen.append(f"{path}: {e}")
            continue
        if ck.get("step") == step:
            return path, ck
        seen.append(f"{path} holds step {ck.get('step')}")
    sys.exit(f"cannot resume from step {step}: " + "; ".join(seen))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "data", "timemachine.txt"))
    for name, default in DEFAULTS.items():
        typ = int if name in INTS or name == "checkpoint_every" else float if name in ("lr", "clip") else str
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None,
                        help=f"default {default}")
    args = ap.parse_args()
    p = read_params(args)

    target = int(os.environ.get("SWEEP_STEPS", p["steps"]))
    trial_dir = os.environ.get("SWEEP_TRIAL_DIR") or os.getcwd()
    ckpt_path = os.path.join(trial_dir, "checkpoint.pt")
    prev_path = os.path.join(trial_dir, "checkpoint.prev.pt")
    resume = os.environ.get("SWEEP_RESUME_STEP")

    if p["threads"] > 0:
        torch.set_num_threads(p["threads"])
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if p["device"] == "auto" else p["device"])
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)

    vocab, train, heldout = load_corpus(args.corpus)
    V = len(vocab)
    if len(train) <= p["seq_len"] or len(heldout) <= p["seq_len"]:
        sys.exit(f"the corpus is too short for seq_len {p['seq_len']}")

    torch.manual_seed(p["seed"])  # the initial weights
    rng = random.Random(p["seed"])  # the batch positions
    model = CharRNN(V, p["hidden"], p["layers"], p["cell"]).to(device)
    if p["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=p["lr"])
    step, loss_sum, loss_n = 0, 0.0, 0

    if resume is not None:
        resume = int(resume)
        if resume > target:
            sys.exit(f"cannot resume from step {resume}: past SWEEP_STEPS={target}")
        path, ck = load_checkpoint((ckpt_path, prev_path), resume)
        if ck["vocab"] != "".join(vocab):
            sys.exit(f"{path} was written for another corpus")
        try:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            sys.exit(f"{path} does not fit this model or optimizer: {e}")
        torch.set_rng_state(ck["torch_rng"])
        if device.type == "cuda" and ck.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ck["cuda_rng"], device)
        s = ck["py_rng"]
        rng.setstate((s[0], tuple(s[1]), s[2]))
        step, loss_sum, loss_n = ck["step"], ck["loss_sum"], ck["loss_n"]
        log(f"resumed from step {step} ({path})")
    n_params = sum(t.numel() for t in model.parameters())
    log(f"V={V}, {len(train)} training and {len(heldout)} held-out characters, {n_params} parameters "
        f"on {device}; steps {step + 1}..{target}, params {p}")

    stop = []  # non-empty once SIGTERM arrived
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))

    def checkpoint():
        if p["checkpoint_every"] == 0:
            return
        save_checkpoint(ckpt_path, prev_path, {
            "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "py_rng": rng.getstate(), "loss_sum": loss_sum, "loss_n": loss_n,
            "vocab": "".join(vocab), "params": p})
        emit({"checkpoint": step})

    while step < target:
        X, Y = sample_batch(train, rng, p["batch_size"], p["seq_len"])
        loss = mean_loss(model, X.to(device), Y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if p["clip"] > 0:
            nn.utils.clip_grad_norm_(model.parameters(), p["clip"])
        opt.step()
        value = loss.item()
        loss_sum += value
        loss_n += 1
        step += 1

        if not math.isfinite(value):  # diverged: report it and stop
            emit({"step": step, "train_loss": value})
            sys.exit(f"the training loss is {value} at step {step} (learning rate {p['lr']} too high?)")
        if step % p["eval_every"] == 0 or step == target:
            train_loss = loss_sum / loss_n
            val_loss = heldout_loss(model, heldout, p["seq_len"], device)
            emit({"step": step, "train_loss": train_loss, "val_loss": val_loss,
                  "train_ppl": ppl(train_loss), "val_ppl": ppl(val_loss)})
            if step % p["eval_every"] == 0:  # not at a budget's end: continuing it later must
                loss_sum, loss_n = 0.0, 0      # print the lines of an uninterrupted run
        saved = False
        if step == target or (p["checkpoint_every"] and step % p["checkpoint_every"] == 0):
            checkpoint()
            saved = True
        if stop and step < target:
            if not saved:
                checkpoint()
            log(f"SIGTERM: stopped at step {step}")
            sys.exit(143)
    return 0


if __name__ == "__main__":
    sys.exit(main())
