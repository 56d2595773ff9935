"""``entangled train``: train one model with an entangled skip and print a short summary."""

from __future__ import annotations

import argparse
import json
from typing import Any

from entangled.commands import add_json_argument, text_stream, write_json_output
from entangled.errors import InvalidParameterError

HELP = "train one model with an entangled skip"


def parse_value(text: str) -> Any:
    """JSON where possible (numbers, true/false, null, lists), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; a pair without ``=`` raises."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidParameterError(option, pair, "key=value (value parsed as JSON if possible)")
        out[key.strip()] = parse_value(value.strip())
    return out


def registered_listing() -> str:
    """The registered architectures (with the task kinds each accepts) and tasks (kind, time
    structure), built-in and plug-in: what ``entangled train --list`` prints."""
    from entangled.nn.models import architecture, architectures
    from entangled.tasks import task_entry, task_names

    lines = ["architectures (--arch):"]
    lines += [f"  {a:<14} {', '.join(architecture(a).input_kinds)} tasks" for a in architectures()]
    lines += ["tasks (--task):"]
    lines += [f"  {t:<28} {task_entry(t).kind}, {task_entry(t).time_structure}" for t in task_names()]
    return "\n".join(lines)


class ListRegistered(argparse.Action):
    """``--list``: print the registered architectures and tasks and exit (like ``--version``).

    The registries import torch, so they are read only here, never for ``--help``."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(registered_listing())
        parser.exit()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``entangled train``. Nothing here imports torch, so that ``entangled
    train --help`` stays fast; the defaults are :class:`entangled.runs.Budget`'s."""
    from entangled.runs import OPTIMIZERS, Budget

    d = Budget()
    parser.add_argument("--list", action=ListRegistered,
                        help="list the registered architectures and tasks (built-in and plug-in) and exit")
    parser.add_argument("--arch", required=True, metavar="ARCH",
                        help="a registered architecture, e.g. cnn, vit, transformer, rnn (--list shows "
                             "all, with the task kinds each accepts)")
    parser.add_argument("--task", required=True, metavar="TASK",
                        help="a registered task, e.g. digits, delayed_recall, counting (--list shows all, "
                             "with their kind and time structure)")
    parser.add_argument("--family", default="identity", help="skip mapping family (default identity)")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="family parameter, repeatable (e.g. --param theta=0.3)")
    parser.add_argument("--skip-seed", type=int, default=0,
                        help="seed of the mapping's random construction (default 0)")
    parser.add_argument("--spatial", action="store_true", help="CNN: spatial structural-correlation skip")
    parser.add_argument("--config", action="append", metavar="KEY=VALUE",
                        help="model config override, repeatable (e.g. --config depth=6)")
    parser.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                        help="task option, repeatable (e.g. --task-option delay=3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of init and batches (default 0)")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps (default {d.steps})")
    parser.add_argument("--epochs", type=float, default=None, help="train for this many epochs instead")
    parser.add_argument("--batch-size", type=int, default=d.batch_size,
                        help=f"batch size (default {d.batch_size})")
    parser.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr:g})")
    parser.add_argument("--optimizer", default=d.optimizer, help="one of " + ", ".join(OPTIMIZERS))
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--grad-clip", type=float, default=d.grad_clip,
                        help=f"max gradient norm, 0 for none (default {d.grad_clip:g})")
    parser.add_argument("--eval-every", type=int, default=d.eval_every,
                        help=f"evaluate the validation split every N steps (default {d.eval_every})")
    parser.add_argument("--patience", type=int, default=None, metavar="K",
                        help="stop after K evaluations without a new best validation accuracy "
                             "(default: train all steps); the best-validation checkpoint is kept")
    parser.add_argument("--device", default=d.device, help="auto (default), cpu or cuda")
    parser.add_argument("--threads", type=int, default=d.threads,
                        help=f"intra-op threads of the run (default {d.threads}; part of the "
                             "run's identity, so the number does not depend on OMP_NUM_THREADS)")
    parser.add_argument("--no-metrics", action="store_true",
                        help="skip the refinement/lesion/CKA/Jacobian snapshots")
    add_json_argument(parser, "the full RunResult")
    parser.add_argument("--save-model", metavar="PATH",
                        help="save the trained model (state_dict + config) to PATH; "
                             "entangled.callbacks.load_checkpoint(PATH) rebuilds it")
    parser.add_argument("--tensorboard", metavar="DIR",
                        help="log losses and accuracy to TensorBoard in DIR (the 'tensorboard' extra)")


def config_from_args(args: argparse.Namespace):
    from entangled.train import RunConfig

    grad_clip = None if args.grad_clip is not None and args.grad_clip == 0 else args.grad_clip
    return RunConfig(
        arch=args.arch, task=args.task, family=args.family,
        params=parse_pairs(args.param, "--param"), skip_seed=args.skip_seed,
        spatial=bool(args.spatial), model=parse_pairs(args.config, "--config"),
        task_options=parse_pairs(args.task_option, "--task-option"), seed=args.seed,
        steps=args.steps, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, weight_decay=args.weight_decay, grad_clip=grad_clip,
        eval_every=args.eval_every, device=args.device, metrics=not args.no_metrics,
        threads=args.threads, patience=args.patience,
    ).validate()


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _short(values: Any, k: int = 6) -> str:
    if not isinstance(values, list):
        return str(values)
    shown = ", ".join(_fmt(v, ".3g") for v in values[:k])
    return f"[{shown}{', ...' if len(values) > k else ''}]"


def format_summary(result) -> str:
    """A few lines: status, accuracy vs chance, loss, time, and a few metrics."""
    c = result.config
    lines = [
        f"run {result.config_hash}: {c['arch']} on {c['task']} ({result.time_structure}), "
        f"skip {c['family']}{' ' + json.dumps(c['params']) if c['params'] else ''}, seed {c['seed']}",
        f"status          {result.status}"
        + (f" (loss non-finite at step {result.diverged_at})" if result.diverged_at else ""),
        f"steps           {result.steps_done}/{result.steps_planned} on {result.device}, "
        f"{result.n_parameters} parameters",
        f"test accuracy   {_fmt(result.test_accuracy)}  (chance {result.chance_accuracy:.4f}, "
        f"memoryless {result.memoryless_accuracy:.4f}), read once at the selected checkpoint",
        f"validation      {_fmt(result.validation_accuracy)} best, at step "
        f"{_fmt(result.selected_step, 'd')} (steps to 95% of it: "
        f"{_fmt(result.steps_to_threshold, 'd')})",
        f"train accuracy  {_fmt(result.train_accuracy)}",
        f"test loss       {_fmt(result.test_loss)}   train loss {_fmt(result.train_loss)}",
        f"wall time       {result.wall_time_s:.1f} s ({result.threads} thread"
        f"{'s' if result.threads != 1 else ''}, torch {result.torch_version})",
    ]
    final = result.snapshot("final")
    init = result.snapshot("init")
    if final is not None:
        for key in ("refinement_ratio", "refinement_cosine", "lesion_accuracy", "cka", "skip_gain"):
            value = getattr(final, key)
            if value is not None:
                lines.append(f"{key:<15} {_short(value)}")
    if init is not None:
        sv = [v for v in (init.jacobian_singular_values or []) if v is not None]
        if sv:
            lines.append(f"jacobian sv     init max {max(sv):.3g}, min {min(sv):.3g}")
    return "\n".join(lines)


def run_callbacks(args: argparse.Namespace) -> list:
    """The callbacks asked for by ``--tensorboard`` and ``--save-model``."""
    from entangled.callbacks import SaveModel, TensorBoardLogger

    callbacks: list = []
    if getattr(args, "tensorboard", None):
        callbacks.append(TensorBoardLogger(args.tensorboard))
    if getattr(args, "save_model", None):
        callbacks.append(SaveModel(args.save_model))
    return callbacks


def run(args: argparse.Namespace) -> int:
    from entangled.train import fit

    config = config_from_args(args)
    callbacks = run_callbacks(args)
    result = fit(config, callbacks=callbacks)
    out = text_stream(args.json)
    print(format_summary(result), file=out)
    write_json_output(args.json, result.to_dict())
    if args.json not in (None, "-"):
        print(f"result written to {args.json}", file=out)
    if args.save_model:
        saved = any(getattr(c, "saved", None) for c in callbacks)
        print(f"model saved to {args.save_model}" if saved
              else f"model not saved to {args.save_model}: the run {result.status}", file=out)
    return 0
