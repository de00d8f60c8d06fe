#!/usr/bin/env python3
"""A character bigram model of The Time Machine, as a `sweep` program (Python stdlib only).

The model is a V x V table of logits W: P(next = b | prev = a) = softmax(W[a])[b]. It is trained
by minibatch SGD on the cross-entropy of character pairs drawn at random from the first 90% of
the text and evaluated on every pair of the last 10% (the best any bigram model can do there is
about 2.26 nats). One step costs well under a millisecond.

Contract with sweep (all optional, so it also runs by hand with the defaults below):
  SWEEP_PARAMS       JSON object of hyperparameters (unknown keys are ignored)
  SWEEP_STEPS        train until the step counter (1-based) equals this; default params.steps
  SWEEP_TRIAL_DIR    where checkpoint.json (and the one before, checkpoint.prev.json) live;
                     default the current directory
  SWEEP_RESUME_STEP  load the checkpoint saved at this step and continue after it (absent:
                     start afresh, ignoring any checkpoint file)
stdout carries only JSON lines: every eval_every steps and at the last one
  {"step": 50, "train_loss": 2.9, "val_loss": 2.8, "val_ppl": 16.4}
(train_loss: the mean since the last multiple of eval_every), and {"checkpoint": 50} once the
checkpoint of step 50 is safely on disk: every checkpoint_every steps, at the last step, and on
SIGTERM (then the program exits 143). A resumed run prints exactly the lines an uninterrupted
run would have printed.

Parameters: lr (0.5), batch_size (32), eval_every (50), steps (200), seed (0), init_scale (0.01),
checkpoint_every (= eval_every; 0 = never). Test knobs (off by default): fail_at, bad_line_at,
no_metric, ignore_sigterm, step_delay_s, crash_signal_at (fires once per trial folder).
"""
import argparse
import json
import math
import os
import random
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = {
    "lr": 0.5, "batch_size": 32, "eval_every": 50, "steps": 200, "seed": 0, "init_scale": 0.01,
    "checkpoint_every": None,  # None: same as eval_every
    "fail_at": 0, "bad_line_at": 0, "no_metric": False, "ignore_sigterm": False,
    "step_delay_s": 0.0, "crash_signal_at": 0,
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def as_bool(v):
    return v.strip().lower() in ("1", "true", "yes") if isinstance(v, str) else bool(v)


def read_params(args):
    """Defaults, overridden by SWEEP_PARAMS, overridden by flags given on the command line."""
    p = dict(DEFAULTS)
    given = json.loads(os.environ.get("SWEEP_PARAMS", "{}"))
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        log(f"ignoring parameters this program does not use: {', '.join(unknown)}")
    p.update({k: v for k, v in given.items() if k in DEFAULTS})
    p.update({k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None})
    for k in ("batch_size", "eval_every", "steps", "seed", "fail_at", "bad_line_at",
              "crash_signal_at"):
        p[k] = int(p[k] or 0)
    for k in ("lr", "init_scale", "step_delay_s"):
        p[k] = float(p[k])
    for k in ("no_metric", "ignore_sigterm"):
        p[k] = as_bool(p[k])
    p["checkpoint_every"] = p["eval_every"] if p["checkpoint_every"] is None else int(p["checkpoint_every"])
    if p["batch_size"] < 1 or p["eval_every"] < 1 or p["steps"] < 1:
        sys.exit("batch_size, eval_every and steps must be at least 1")
    return p


def load_corpus(path):
    """d2l preprocessing: lowercase, each run of non-letters becomes one space."""
    with open(path, encoding="utf-8") as f:
        text = re.sub("[^a-z]+", " ", f.read().lower())
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = [index[c] for c in text]
    cut = len(ids) * 9 // 10
    return vocab, ids[:cut], ids[cut:]


def log_softmax(row):
    """log softmax(row), numerically stable."""
    m = max(row)
    lse = m + math.log(sum(math.exp(w - m) for w in row))
    return [w - lse for w in row]


def sgd_step(W, train, rng, batch_size, lr):
    """One SGD step on batch_size random pairs; returns the batch's mean cross-entropy.

    Pairs sharing a previous character share one softmax: the gradient of row a is
    (n_a * softmax(W[a]) - counts of a's successors) / batch_size.
    """
    by_prev = {}
    for _ in range(batch_size):
        i = rng.randrange(len(train) - 1)
        by_prev.setdefault(train[i], []).append(train[i + 1])
    loss = 0.0
    scale = lr / batch_size
    for a in sorted(by_prev):  # a fixed order keeps the float sums reproducible
        nexts = by_prev[a]
        row = W[a]
        logp = log_softmax(row)
        n = len(nexts)
        for b in nexts:
            loss -= logp[b]
        for j, lp in enumerate(logp):
            row[j] -= scale * n * math.exp(lp)
        for b in nexts:
            row[b] += scale
    return loss / batch_size


def heldout_loss(W, pair_counts, n_pairs):
    """Mean cross-entropy over all held-out pairs, from their counts (V x V work, not N)."""
    total = 0.0
    for a, counts in sorted(pair_counts.items()):
        logp = log_softmax(W[a])
        for b, c in sorted(counts.items()):
            total -= c * logp[b]
    return total / n_pairs


def save_checkpoint(path, prev, state):
    """Write to a temporary file in the same folder, fsync, rename into place.

    The previous checkpoint is kept as `prev`: if the program dies between saving and printing
    {"checkpoint": n}, sweep still names the previous step, whose file must then still exist.
    """
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "data", "timemachine.txt"))
    for name, typ in (("lr", float), ("batch_size", int), ("eval_every", int), ("steps", int),
                      ("seed", int), ("init_scale", float), ("checkpoint_every", int)):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None)
    args = ap.parse_args()
    p = read_params(args)

    target = int(os.environ.get("SWEEP_STEPS", p["steps"]))
    trial_dir = os.environ.get("SWEEP_TRIAL_DIR") or os.getcwd()
    ckpt_path = os.path.join(trial_dir, "checkpoint.json")
    prev_path = os.path.join(trial_dir, "checkpoint.prev.json")
    resume = os.environ.get("SWEEP_RESUME_STEP")

    vocab, train, heldout = load_corpus(args.corpus)
    V = len(vocab)
    pair_counts = {}
    for a, b in zip(heldout, heldout[1:]):
        pair_counts.setdefault(a, {}).setdefault(b, 0)
        pair_counts[a][b] += 1
    n_heldout = len(heldout) - 1

    if resume is not None:
        resume = int(resume)
        found = []
        for path in (ckpt_path, prev_path):
            try:
                with open(path) as f:
                    ck = json.load(f)
            except (OSError, ValueError) as e:
                found.append(f"{path}: {e}")
                continue
            if ck.get("step") == resume:
                break
            found.append(f"{path} holds step {ck.get('step')}")
        else:
            sys.exit(f"cannot resume from step {resume}: " + "; ".join(found))
        if ck["vocab"] != "".join(vocab) or ck["batch_size"] != p["batch_size"]:
            sys.exit(f"{path} was written for another corpus or batch size")
        if resume > target:
            sys.exit(f"checkpoint step {resume} is past SWEEP_STEPS={target}")
        W, step = ck["W"], ck["step"]
        rng = random.Random()
        s = ck["rng"]
        rng.setstate((s[0], tuple(s[1]), s[2]))
        loss_sum, loss_n = ck["loss_sum"], ck["loss_n"]
        log(f"resumed from step {step} ({path})")
    else:
        rng = random.Random(p["seed"])
        sd = p["init_scale"]
        W = [[rng.gauss(0.0, sd) if sd > 0 else 0.0 for _ in range(V)] for _ in range(V)]
        step, loss_sum, loss_n = 0, 0.0, 0
    log(f"V={V}, {len(train)} training and {len(heldout)} held-out characters; "
        f"steps {step + 1}..{target}, params {p}")

    stop = []  # non-empty once SIGTERM arrived
    if p["ignore_sigterm"]:
        signal.signal(signal.SIGTERM, lambda *_: None)  # keeps training until SIGKILL
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    crash_marker = os.path.join(trial_dir, f"crashed_at_{p['crash_signal_at']}")

    def checkpoint():
        if p["checkpoint_every"] == 0:
            return
        save_checkpoint(ckpt_path, prev_path, {
            "step": step, "W": W, "rng": rng.getstate(), "loss_sum": loss_sum, "loss_n": loss_n,
            "vocab": "".join(vocab), "batch_size": p["batch_size"]})
        emit({"checkpoint": step})

    while step < target:
        nxt = step + 1
        if nxt == p["fail_at"]:
            log(f"simulated failure at step {nxt}")
            sys.exit(3)
        if nxt == p["crash_signal_at"] and not os.path.exists(crash_marker):
            open(crash_marker, "w").close()  # only once, so a retry gets past it
            log(f"simulated SIGKILL at step {nxt}")
            os.kill(os.getpid(), signal.SIGKILL)

        loss_sum += sgd_step(W, train, rng, p["batch_size"], p["lr"])
        loss_n += 1
        step = nxt

        if step == p["bad_line_at"]:
            print({"step": step}, flush=True)  # Python repr, single quotes: not JSON
        if step % p["eval_every"] == 0 or step == target:
            row = {"step": step, "train_loss": loss_sum / loss_n}
            if not p["no_metric"]:
                val = heldout_loss(W, pair_counts, n_heldout)
                row["val_loss"] = val
                row["val_ppl"] = math.exp(val) if val < 700 else float("inf")
            emit(row)
            if step % p["eval_every"] == 0:  # not at a budget's end: continuing it later must
                loss_sum, loss_n = 0.0, 0      # print the lines of an uninterrupted run
        saved = False
        if step == target or (p["checkpoint_every"] and step % p["checkpoint_every"] == 0):
            checkpoint()
            saved = True

        if p["step_delay_s"] > 0:  # sleep in slices so SIGTERM is answered promptly
            end = time.monotonic() + p["step_delay_s"]
            while not stop and time.monotonic() < end:
                time.sleep(min(0.02, max(0.0, end - time.monotonic())))
        if stop and step < target:
            if not saved:
                checkpoint()
            log(f"SIGTERM: stopped at step {step}")
            sys.exit(143)
    return 0


if __name__ == "__main__":
    sys.exit(main())
