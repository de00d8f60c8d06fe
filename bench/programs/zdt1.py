#!/usr/bin/env python3
"""ZDT1 (Zitzler, Deb and Thiele 2000) on four variables as a `sweep` program with a learning
curve, for benches/objectives.rs: f1 = x1, g = 1 + 9 * mean(x2, x3, x4), f2 = g * (1 - sqrt(f1 / g)),
both minimised; the true front is f2 = 1 - sqrt(f1) (x2 = x3 = x4 = 0). At step s it reports
f1 + 0.2 / sqrt(s) and f2 * (1 + 3 * x2 / sqrt(s)): a configuration with a large x2 looks worse
early than it ends, so early stopping can be misled. Values depend on the step only, so a run
resumed from a checkpoint prints what a whole run would have."""
import json
import math
import os

p = json.loads(os.environ.get("SWEEP_PARAMS", "{}"))
steps = int(os.environ.get("SWEEP_STEPS", p.get("steps", 90)))
start = int(os.environ.get("SWEEP_RESUME_STEP", "0") or 0)
every = int(p.get("eval_every", 10))
x = [float(p.get(k, 0.5)) for k in ("x1", "x2", "x3", "x4")]
f1 = x[0]
g = 1 + 9 * sum(x[1:]) / 3
f2 = g * (1 - math.sqrt(f1 / g))
for step in range(start + 1, steps + 1):
    if step % every == 0 or step == steps:
        r = 1 / math.sqrt(step)
        print(json.dumps({"step": step, "f1": f1 + 0.2 * r, "f2": f2 * (1 + 3 * x[1] * r)}), flush=True)
        print(json.dumps({"checkpoint": step}), flush=True)
