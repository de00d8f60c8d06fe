"""A program whose metric is fixed per configuration and seed, for the verdict tests in
tests/analysis.rs: val_loss = mean * (1 + spread * s), s = +1, -1, +0.5, -0.5, +1, ... by seed."""
import json
import os

p = json.loads(os.environ.get("SWEEP_PARAMS", "{}"))
steps = int(os.environ.get("SWEEP_STEPS", p.get("steps", 1)))
seed = int(p.get("seed", 0))
sign = 1 if seed % 2 == 0 else -1
width = 1.0 if seed // 2 % 2 == 0 else 0.5
value = float(p["mean"]) * (1 + float(p.get("spread", 0)) * sign * width)
print(json.dumps({"step": steps, "val_loss": value}), flush=True)
