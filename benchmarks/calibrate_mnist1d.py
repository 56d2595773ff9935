"""MNIST-1D calibration: what our identity-skip models reach, beside the published table.

Trains one model per ``--config`` setting with the protocol of :func:`entangled.train.fit`
(Adam, constant learning rate, gradient clipping 1.0, mini-batches of a fresh permutation per
epoch) on the first ``4000 - val`` training examples, and reports the accuracy on the held-out
``val`` training examples (the number to choose settings by) and on the test set (read once
per setting, never used for choosing). The paper's own reference models are trained by
``entangled calibrate --mnist1d-references`` (:mod:`entangled.reports.calibration`).

Usage::

    python benchmarks/calibrate_mnist1d.py --arch cnn --steps 3000 --config width=32 --config depth=4
    python benchmarks/calibrate_mnist1d.py --arch rnn --task mnist1d_sequence --steps 3000
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from entangled.nn.models import SkipSpec, build_model
from entangled.tasks import load_task


def accuracy(model, x, y, batch=1000) -> float:
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum())
                   for i in range(0, len(x), batch))
    model.train()
    return hits / len(x)


def train_one(arch: str, task_name: str, config: dict, *, family: str, steps: int,
              batch_size: int, lr: float, seed: int, val: int) -> dict:
    task = load_task(task_name)
    x, y = task.x_train[:-val], task.y_train[:-val]
    x_val, y_val = task.x_train[-val:], task.y_train[-val:]
    model = build_model(arch, input_shape=task.input_shape, output_dim=task.output_dim,
                        skip=SkipSpec(family=family), config=config or None, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    order, cursor = torch.randperm(len(x), generator=generator), 0
    start = time.perf_counter()
    for _ in range(steps):
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(len(x), generator=generator), 0
        idx = order[cursor:cursor + batch_size]
        cursor += batch_size
        loss = task.loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return {"arch": arch, "task": task_name, "family": family, "config": config, "steps": steps,
            "batch_size": batch_size, "lr": lr, "seed": seed,
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "train_accuracy": accuracy(model, x, y), "val_accuracy": accuracy(model, x_val, y_val),
            "test_accuracy": accuracy(model, task.x_test, task.y_test),
            "wall_time_s": round(time.perf_counter() - start, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--family", default="identity")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = {}
    for pair in args.config:
        key, _, value = pair.partition("=")
        config[key] = json.loads(value)
    print(json.dumps(train_one(args.arch, args.task, config, family=args.family,
                               steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                               seed=args.seed, val=args.val)), flush=True)


if __name__ == "__main__":
    main()
