"""What a factory returns to ``entangled probe``: ``(block, input)`` or a dict of probe options.

A factory takes no arguments and returns either the tuple ``(block, sample_input)`` or a dict
with the keys :data:`SPEC_KEYS` (``block`` and ``input`` required); options given on the
command line override the factory's.
"""

from __future__ import annotations

from typing import Any

import torch

from entangled.theory.probe.core import DEFAULT_CALLS, probe
from entangled.theory.probe.kinds import DEFAULT_KIND
from entangled.theory.probe.mapping import ProbedMapping, ProbeError

OPTION_KEYS = ("streams", "dim", "layout", "silence", "no_branch", "exposed",
               "exposed_transposed", "perturb", "call", "output", "kind", "pre_activation",
               "calls", "mixing", "dtype")
SPEC_KEYS = ("block", "input") + OPTION_KEYS + ("source", "description")


def normalise_spec(spec: Any) -> dict:
    """The factory's result as a dict with :data:`SPEC_KEYS` (checked)."""
    if isinstance(spec, tuple) and len(spec) == 2:
        spec = {"block": spec[0], "input": spec[1]}
    if not isinstance(spec, dict):
        raise ProbeError(f"invalid factory result {type(spec).__name__}; allowed: a tuple "
                         f"(block, sample_input) or a dict with keys {', '.join(SPEC_KEYS)}")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise ProbeError(f"invalid key {unknown[0]!r} in factory result; allowed keys: "
                         + ", ".join(SPEC_KEYS))
    for key in ("block", "input"):
        if key not in spec:
            raise ProbeError(f"missing key {key!r} in factory result; required: block, input")
    return dict(spec)


def probe_spec(spec: Any, *, source: str | None = None, checks: bool = True,
               names: dict | None = None, **overrides: Any) -> ProbedMapping:
    """Probe what a factory returned: ``(block, input)`` or a dict with :data:`SPEC_KEYS`.

    ``overrides`` (any of :data:`OPTION_KEYS`) that are not ``None`` replace the factory's
    values; ``source`` is used when the factory gives none; ``names`` are put in scope of a
    string ``call`` (the target module's globals, for the CLI).
    """
    unknown = [k for k in overrides if k not in OPTION_KEYS]
    if unknown:
        raise ProbeError(f"invalid option {unknown[0]!r}; allowed: " + ", ".join(OPTION_KEYS))
    spec = normalise_spec(spec)
    options = {key: spec.get(key) for key in OPTION_KEYS}
    options.update({k: v for k, v in overrides.items() if v is not None})
    defaults = {"layout": "auto", "kind": DEFAULT_KIND, "calls": DEFAULT_CALLS,
                "dtype": torch.float64}
    for key, value in defaults.items():
        if options[key] is None:
            options[key] = value
    return probe(
        spec["block"], spec["input"],
        streams=options["streams"], dim=options["dim"], layout=options["layout"],
        silence=options["silence"], no_branch=bool(options["no_branch"]),
        source=spec.get("source", source), exposed=options["exposed"],
        exposed_transposed=bool(options["exposed_transposed"]), perturb=options["perturb"],
        checks=checks, call=options["call"], output=options["output"], kind=options["kind"],
        pre_activation=options["pre_activation"], calls=options["calls"],
        mixing=options["mixing"], dtype=options["dtype"], names=names,
    )
