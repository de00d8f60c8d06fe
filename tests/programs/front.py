"""A program with a known trade-off front, for tests/objectives.rs: f1 = x, f2 = 1 - sqrt(x)
(both + 1/step), n=1 adds 0.3 to f2, n=2 adds 0.001 to both, and +-0.003 of seed noise.
Its values depend only on the step, so a resumed run prints what a whole run would have."""
import json, math, os, sys, time
p = json.loads(os.environ.get("SWEEP_PARAMS", "{}"))
steps = int(os.environ.get("SWEEP_STEPS", p.get("steps", 20)))
start = int(os.environ.get("SWEEP_RESUME_STEP", "0") or 0)
x, n, seed = float(p["x"]), int(p.get("n", 0)), int(p.get("seed", 0))
every, delay = int(p.get("eval_every", 10)), float(p.get("step_delay_s", 0))
noise = 0.003 if seed % 2 == 0 else -0.003
penalty = {0: 0.0, 1: 0.3, 2: 0.0}[n]
hair = 0.001 if n == 2 else 0.0
for step in range(start + 1, steps + 1):
    time.sleep(delay)
    if step % every == 0 or step == steps:
        f1 = x + 1.0 / step + noise + hair
        f2 = 1 - math.sqrt(x) + penalty + 1.0 / step + noise + hair
        print(json.dumps({"step": step, "f1": f1, "f2": f2}), flush=True)
        print(json.dumps({"checkpoint": step}), flush=True)
