#!/usr/bin/env python3
"""sweep against Optuna + PyTorch, side by side: the same search on the same machine.

The space of sweeps/tpe.json (lr loguniform [1e-3, 1e-1], hidden int [32, 256], batch
{16, 32, 64}, cell {rnn, gru, lstm}; 900 steps, held-out perplexity every 100), 30
configurations: TPE (10 random first) with successive halving from 100 steps, eta 3, two
workers of one thread each.

- sweep: `sweep` on that grid file with `early_stopping` method METHOD (default asha),
  `--jobs 2`.
- Optuna: TPESampler(seed, n_startup_trials=10) with SuccessiveHalvingPruner(min_resource=100,
  reduction_factor=3) (asynchronous successive halving), two worker processes sharing a
  journal-file study, training bench/reference.py's recipe (the same corpus, split, batches,
  model and Adam) for each trial, one torch thread each.

For each search seed, one after the other: the wall time, the CPU time, when the best
configuration found (trained to 900 steps) first reached held-out 5.6 and 5.4, the best found
and how many configurations reached 900 steps. Prints a markdown table (means over seeds).

  bench/side_by_side.sh                  8 search seeds
  SEEDS=3 METHOD=successive_halving bench/side_by_side.sh
"""
import csv
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

TRIALS = int(os.environ.get("TRIALS", "30"))
STEPS = 900
TARGETS = (5.6, 5.4)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timeline(completions):
    """(seconds, value) of each full-budget result -> first time the best reached each target."""
    best, reached = math.inf, {}
    for t, v in sorted(completions):
        best = min(best, v)
        for target in TARGETS:
            if best <= target and target not in reached:
                reached[target] = t
    return best, reached


def run_sweep(seed, out, method):
    grid = json.loads((ROOT / "sweeps/tpe.json").read_text())
    grid["name"] = f"side-by-side-{seed}"
    grid["search"].update({"trials": TRIALS, "seed": seed, "startup": min(10, TRIALS)})
    grid["early_stopping"] = {"method": method, "min_steps": 100, "eta": 3}
    file = out / f"sweep-{seed}.json"
    file.write_text(json.dumps(grid))
    results = out / f"sweep-{seed}"
    cpu0, t0 = children_cpu(), time.time()
    subprocess.run(
        [str(ROOT / "target/release/sweep"), str(file), "--out", str(results), "--jobs", "2"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, cpu = time.time() - t0, children_cpu() - cpu0
    completions = []
    with open(results / "trials.csv") as f:
        for row in csv.DictReader(f):
            if row["status"] == "completed" and row["final_heldout_ppl"]:
                done = row["finished_at"].replace("Z", "+00:00")
                at = _epoch(done) - t0
                completions.append((at, float(row["final_heldout_ppl"])))
    return wall, cpu, completions


def _epoch(rfc3339):
    from datetime import datetime
    return datetime.fromisoformat(rfc3339).timestamp()


def optuna_worker(storage_path, study_name, seed, worker, t0):
    """One Optuna worker process: trials until the study has TRIALS."""
    import optuna
    import torch
    from optuna.storages import JournalStorage
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState
    import reference

    try:
        from optuna.storages.journal import JournalFileBackend as Backend
    except ImportError:  # older Optuna
        from optuna.storages import JournalFileStorage as Backend
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(Backend(storage_path))
    study = optuna.load_study(
        study_name=study_name, storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed * 100 + worker, n_startup_trials=min(10, TRIALS)),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=100, reduction_factor=3))
    train, tail, vocab = reference.load()

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
        hidden = trial.suggest_int("hidden", 32, 256)
        size = trial.suggest_categorical("batch_size", [16, 32, 64])
        cell = trial.suggest_categorical("cell", ["rnn", "gru", "lstm"])
        torch.manual_seed(trial.number)
        model = reference.CharRnn(vocab, hidden, cell)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        rng = random.Random(trial.number)
        ppl = math.inf
        for step in range(1, STEPS + 1):
            reference.step(model, opt, *reference.batch(train, size, rng), vocab)
            if step % 100 == 0:
                ppl = reference.heldout(model, tail, vocab)
                if not math.isfinite(ppl):
                    raise optuna.TrialPruned()
                trial.report(ppl, step)
                if step < STEPS and trial.should_prune():
                    raise optuna.TrialPruned()
        trial.set_user_attr("finished_s", time.time() - t0)
        return ppl

    study.optimize(objective, callbacks=[
        MaxTrialsCallback(TRIALS, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))])


def run_optuna(seed, out):
    import optuna
    from optuna.storages import JournalStorage
    try:
        from optuna.storages.journal import JournalFileBackend as Backend
    except ImportError:
        from optuna.storages import JournalFileStorage as Backend
    storage_path = str(out / f"optuna-{seed}.log")
    name = f"side-by-side-{seed}"
    optuna.create_study(study_name=name, storage=JournalStorage(Backend(storage_path)),
                        direction="minimize")
    cpu0, t0 = children_cpu(), time.time()
    workers = [subprocess.Popen([sys.executable, __file__, "worker", storage_path, name,
                                 str(seed), str(w), repr(t0)]) for w in range(2)]
    for w in workers:
        if w.wait() != 0:
            raise SystemExit("an Optuna worker failed")
    wall, cpu = time.time() - t0, children_cpu() - cpu0
    study = optuna.load_study(study_name=name, storage=JournalStorage(Backend(storage_path)))
    completions = [(t.user_attrs["finished_s"], t.value) for t in study.trials
                   if t.state == optuna.trial.TrialState.COMPLETE]
    return wall, cpu, completions


def summary(name, runs):
    walls = [r[0] for r in runs]
    cpus = [r[1] for r in runs]
    bests, reached = zip(*(timeline(r[2]) for r in runs))
    full = [len(r[2]) for r in runs]
    cells = [name, f"{statistics.mean(walls):.1f} s", f"{statistics.mean(cpus):.1f} s"]
    for target in TARGETS:
        times = [r[target] for r in reached if target in r]
        all_times = sorted(r.get(target, math.inf) for r in reached)
        median = statistics.median(all_times)
        cells.append(
            f"{len(times)}/{len(runs)} seeds; mean {statistics.mean(times):.1f} s; median "
            f"{'never' if math.isinf(median) else f'{median:.1f} s'}" if times else
            f"0/{len(runs)} seeds")
    cells.append(f"{statistics.mean(bests):.2f} ± {statistics.stdev(bests) if len(bests) > 1 else 0:.2f}")
    cells.append(f"{min(full)}–{max(full)} of {TRIALS}")
    return "| " + " | ".join(cells) + " |"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        storage, name, seed, worker, t0 = sys.argv[2:7]
        optuna_worker(storage, name, int(seed), int(worker), float(t0))
        return
    seeds = int(os.environ.get("SEEDS", "8"))
    method = os.environ.get("METHOD", "asha")
    # ONLY=sweep skips the Optuna side (a quicker look while changing sweep; the table still
    # needs both sides measured in one run).
    only_sweep = os.environ.get("ONLY") == "sweep"
    out = Path(os.environ.get("OUT", ROOT / "bench/out/side-by-side"))
    out.mkdir(parents=True, exist_ok=True)
    sweep_runs, optuna_runs = [], []
    for seed in range(seeds):
        sweep_runs.append(run_sweep(seed, Path(tempfile.mkdtemp(dir=out)), method))
        print(f"seed {seed}: sweep {sweep_runs[-1][0]:.1f} s, best "
              f"{timeline(sweep_runs[-1][2])[0]:.2f}", file=sys.stderr)
        if only_sweep:
            continue
        optuna_runs.append(run_optuna(seed, Path(tempfile.mkdtemp(dir=out))))
        print(f"seed {seed}: optuna {optuna_runs[-1][0]:.1f} s, best "
              f"{timeline(optuna_runs[-1][2])[0]:.2f}", file=sys.stderr)
    print(f"| | wall | CPU | best reaches {TARGETS[0]} | best reaches {TARGETS[1]} | best found "
          "(mean ± sd) | configurations to 900 steps |")
    print("|---|---|---|---|---|---|---|")
    print(summary(f"sweep (TPE + {method})", sweep_runs))
    if optuna_runs:
        print(summary("Optuna + PyTorch (TPE + SuccessiveHalvingPruner)", optuna_runs))


if __name__ == "__main__":
    main()
