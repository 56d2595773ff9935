"""Does ``torch.compile`` pay for one of a suite's runs? Eager against compiled, per architecture.

For each architecture, one of the suite's own runs (the orthogonal variant at the fixed
learning rate) is set up as ``fit`` sets it up (model, Adam, batch 32, one thread) and its
training step (forward, loss, backward) is timed

* eager;
* compiled with ``torch.compile`` (inductor, CPU, default mode) in a fresh process with an
  **empty** inductor cache (``TORCHINDUCTOR_CACHE_DIR``): the first steps' time is the cold
  compile;
* compiled again in a fresh process with the cache that the cold run left (inductor's FX
  graph cache and AOTAutograd cache, on disk): the warm compile.

Times are process CPU time, with inductor's compile workers off
(``TORCHINDUCTOR_COMPILE_THREADS=1``) so that the compile's own work is counted. The last
column is the number of steps after which the compiled run has made up its compile time
(warm cache), against the steps one run of the suite takes. Compiled kernels round
differently from eager ones, so compiling would also change every stored result.

Usage: python benchmarks/bench_compile.py [--preset quick] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ARCH_TASKS = (("cnn", "digits"), ("vit", "digits"), ("rnn", "delayed_recall"),
              ("transformer", "counting"))

WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from entangled.runs import as_spec
from entangled.tasks import load_task
from entangled.tasks.validation import with_validation
from entangled.train import RunConfig, build_for

config, mode, steps = RunConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], int(sys.argv[3])
spec = as_spec(config).resolve()
task = with_validation(load_task(spec.task.name, seed=0, **dict(spec.task.options)), 0)
model = build_for(spec, task)
model.train()
optimizer = torch.optim.Adam(model.parameters(), lr=spec.budget.lr)
forward = torch.compile(model) if mode == "compiled" else model
generator = torch.Generator().manual_seed(0)
times = []
for _ in range(steps):
    idx = torch.randint(0, task.n_train, (spec.budget.batch_size,), generator=generator)
    start = time.process_time()
    loss = task.loss(forward(task.x_train[idx]), task.y_train[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    times.append(time.process_time() - start)
print("RESULT" + json.dumps(times))
"""


def measure(config: dict, mode: str, steps: int, cache: str) -> list[float]:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TORCHINDUCTOR_COMPILE_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", WORKER, json.dumps(config), mode, str(steps)],
                         env=env, capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def main(argv=None) -> None:
    from entangled.reports.presets import get_preset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    chosen = {}
    for config in get_preset(args.preset).configs(fixed_lr_only=True):
        key = (config.arch, config.task)
        if key in ARCH_TASKS and key not in chosen and config.family == "orthogonal":
            chosen[key] = config
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("\n| arch | task | eager ms/step | compiled ms/step | cold compile (s) "
          "| warm compile (s) | steps to repay the warm compile | steps of one run |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for key in ARCH_TASKS:
        if key not in chosen:
            continue
        config = chosen[key]
        cache = tempfile.mkdtemp(prefix="bench-compile-")
        try:
            eager = measure(config.to_dict(), "eager", args.steps, cache)
            cold = measure(config.to_dict(), "compiled", args.steps, cache)
            warm = measure(config.to_dict(), "compiled", args.steps, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        tail = args.steps // 2
        eager_step = sorted(eager[tail:])[len(eager[tail:]) // 2]
        compiled_step = sorted(warm[tail:])[len(warm[tail:]) // 2]
        # compile time: the first steps' excess over the compiled steady state
        cold_compile = sum(cold[:3]) - 3 * compiled_step
        warm_compile = sum(warm[:3]) - 3 * compiled_step
        gain = eager_step - compiled_step
        repay = f"{warm_compile / gain:.0f}" if gain > 0 else "never"
        print(f"| {key[0]} | {key[1]} | {1e3 * eager_step:.2f} | {1e3 * compiled_step:.2f} "
              f"| {cold_compile:.1f} | {warm_compile:.1f} | {repay} | {config.steps} |",
              flush=True)
    print(f"\nload average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
