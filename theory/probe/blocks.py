"""Getting a block ready to probe: silencing its branch, fresh copies, perturbing parameters,
and reading the mixing matrix it exposes — all generic, for any ``torch.nn.Module``.

* :func:`silence_hooks` — forward hooks that replace the named submodules' outputs by zeros;
* :class:`BlockCopies` — every measurement runs on a fresh deep copy (cast to the probe's
  dtype, eval mode, branch silenced), so state a module keeps between calls cannot leak from
  one measurement into another; only :func:`entangled.theory.probe.measure.function_gaps` calls one copy
  twice, on purpose;
* :func:`perturb_parameters` — ``GLOB[:SCALE]``: add seeded Gaussian noise to the parameters
  whose names match;
* :func:`exposed_reader` — ``ATTRIBUTE``: a tensor attribute, or a callable / submodule the
  forward pass calls, whose last output is recorded.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any, Callable, Sequence

import torch

from entangled.errors import InvalidParameterError
from entangled.theory.probe.invoke import Invocation, append_to_window
from entangled.theory.probe.mapping import ProbeError


class ZeroBranch(torch.nn.Module):
    """A residual branch that returns zeros shaped like its input: ``F(x) = 0``."""

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.zeros_like(x)


def has_zero_branch(block: Any) -> bool:
    """Whether ``block`` is a module with a :class:`ZeroBranch` inside (silenced by construction)."""
    return isinstance(block, torch.nn.Module) and any(
        isinstance(m, ZeroBranch) for m in block.modules())


def silence_hooks(block: torch.nn.Module, names: str | Sequence[str]) -> list:
    """Register forward hooks that replace the outputs of the named submodules by zeros.

    Returns the hook handles (call ``.remove()`` on each to undo). Tensor outputs become
    ``zeros_like``; in a tuple/list output every tensor is zeroed.
    """
    if isinstance(names, str):
        names = [names]
    modules = dict(block.named_modules())
    handles = []
    for name in names:
        if name not in modules or name == "":
            known = ", ".join(repr(k) for k in modules if k) or "none"
            raise ProbeError(f"invalid silence={name!r}; allowed: a submodule name of the "
                             f"block ({known})")
        handles.append(modules[name].register_forward_hook(_zero_output_hook))
    return handles


def _zero_output_hook(module, inputs, output):
    if isinstance(output, torch.Tensor):
        return torch.zeros_like(output)
    if isinstance(output, (tuple, list)):
        return type(output)(torch.zeros_like(o) if isinstance(o, torch.Tensor) else o
                            for o in output)
    raise ProbeError(f"cannot silence {type(module).__name__}: its output is a "
                     f"{type(output).__name__}, not a tensor or a tuple of tensors")



def _as_names(silence: str | Sequence[str] | None) -> list[str]:
    if silence is None:
        return []
    return [silence] if isinstance(silence, str) else list(silence)


class BlockCopies:
    """Fresh, prepared copies of a block: deep copy, cast to ``dtype``, eval mode, silenced.

    A plain callable (not a module) cannot be copied; it is returned as is. ``invocation`` says
    how the block is called (:class:`~entangled.theory.probe.invoke.Invocation`; default
    ``block(x)``); ``measure_at`` names a submodule whose *input* at its last call replaces the
    block's output (the pre-activation point of a block with a nonlinearity after the sum).
    """

    def __init__(self, block: Any, dtype: torch.dtype, silence: str | Sequence[str] | None,
                 invocation: Invocation | None = None, measure_at: str | None = None):
        if not callable(block):
            raise InvalidParameterError("block", type(block).__name__, "a callable or nn.Module",
                                        context="probe")
        if not isinstance(block, torch.nn.Module) and silence is not None:
            raise ProbeError("silence= needs the block to be a torch.nn.Module (hooks are "
                             "registered on its submodules)")
        if not isinstance(block, torch.nn.Module) and measure_at is not None:
            raise ProbeError("pre_activation= needs the block to be a torch.nn.Module (a hook "
                             "reads the input of its submodule)")
        self.block, self.dtype, self.silence = block, dtype, _as_names(silence)
        self.invocation = invocation if invocation is not None else Invocation()
        self.measure_at = measure_at
        if isinstance(block, torch.nn.Module) and self.silence:
            silence_hooks(copy.deepcopy(block), self.silence)      # fail early on bad names
        if isinstance(block, torch.nn.Module) and measure_at is not None:
            _submodule(block, measure_at, "pre_activation")

    @property
    def is_module(self) -> bool:
        return isinstance(self.block, torch.nn.Module)

    def fresh(self, silenced: bool = True) -> Callable:
        """A new prepared copy (the original is never called)."""
        if not self.is_module:
            return self.block
        block = copy.deepcopy(self.block).to(self.dtype).eval()
        if silenced and self.silence:
            silence_hooks(block, self.silence)
        return block

    def caller(self, block: Callable) -> Callable:
        """``x -> output``: ``block`` called as the invocation says (read at ``measure_at``)."""
        invocation, measure_at = self.invocation, self.measure_at
        if measure_at is None:
            return lambda x: invocation(block, x)

        def call(x: torch.Tensor) -> Any:
            captured: list = []
            if not isinstance(block, torch.nn.Module):     # checked in __init__ as well
                raise ProbeError("pre_activation= needs the block to be a torch.nn.Module")
            handle = _submodule(block, measure_at, "pre_activation").register_forward_pre_hook(
                lambda _module, inputs: captured.append(inputs[0]))
            try:
                invocation(block, x)
            finally:
                handle.remove()
            if not captured:
                raise ProbeError(f"invalid pre_activation={measure_at!r}: the forward pass never "
                                 "called that submodule")
            return append_to_window(x, captured[-1]) if invocation.window else captured[-1]

        return call

    def fresh_call(self, silenced: bool = True) -> Callable:
        """``x -> output`` on a new prepared copy (see :meth:`caller`)."""
        return self.caller(self.fresh(silenced))

    def after_calls(self, x: torch.Tensor, calls: int) -> Callable:
        """A new prepared (silenced) copy that has already been called ``calls`` times on ``x``
        (no gradient), so that state it keeps between calls has advanced."""
        block = self.fresh()
        run = self.caller(block)
        with torch.no_grad():
            for _ in range(calls):
                run(x)
        return block


def _submodule(block: torch.nn.Module, name: str, option: str) -> torch.nn.Module:
    modules = dict(block.named_modules())
    if not name or name not in modules:
        known = ", ".join(repr(k) for k in modules if k) or "none"
        raise ProbeError(f"invalid {option}={name!r}; allowed: a submodule name of the block "
                         f"({known})")
    return modules[name]


# ------------------------------------------------------------------------ perturbation
def parse_perturb(text: str) -> tuple[str, float]:
    """``"GLOB"`` or ``"GLOB:SCALE"`` -> ``(glob, scale)`` (scale 1.0 by default)."""
    if not isinstance(text, str) or not text or text.count(":") > 1:
        raise InvalidParameterError("perturb", text, "'GLOB' or 'GLOB:SCALE' (e.g. "
                                    "'*logits*:0.5')", context="probe")
    pattern, _, scale = text.partition(":")
    try:
        value = float(scale) if scale else 1.0
    except ValueError:
        value = float("nan")
    if not pattern or not value > 0 or value == float("inf"):
        raise InvalidParameterError("perturb", text, "'GLOB' or 'GLOB:SCALE' with a glob and "
                                    "a finite SCALE > 0", context="probe")
    return pattern, value


def matching_parameters(block: torch.nn.Module, pattern: str) -> list[str]:
    """Names of the parameters whose dotted name, or last component, matches ``pattern``."""
    return [name for name, _ in block.named_parameters()
            if fnmatch.fnmatchcase(name, pattern)
            or fnmatch.fnmatchcase(name.rsplit(".", 1)[-1], pattern)]


def perturb_parameters(pattern: str, scale: float = 1.0, seed: int = 1) -> Callable:
    """``block -> block``: add seeded ``N(0, scale^2)`` noise, in place, to every parameter
    whose name matches the glob ``pattern`` (see :func:`matching_parameters`)."""

    def perturb(block: torch.nn.Module) -> torch.nn.Module:
        if not isinstance(block, torch.nn.Module):
            raise ProbeError("perturb needs the block to be a torch.nn.Module")
        names = matching_parameters(block, pattern)
        if not names:
            known = ", ".join(name for name, _ in block.named_parameters()) or "none"
            raise ProbeError(f"invalid perturb={pattern!r}: no parameter name matches; "
                             f"parameters: {known}")
        generator = torch.Generator().manual_seed(seed)
        params = dict(block.named_parameters())
        with torch.no_grad():
            for name in names:
                p = params[name]
                noise = torch.randn(tuple(p.shape), generator=generator, dtype=torch.float64)
                p.add_((scale * noise).to(p.dtype))
        return block

    perturb.__name__ = f"perturb_parameters({pattern!r}, scale={scale:g})"
    return perturb


# ------------------------------------------------------------------------ exposed matrix
def _resolve(block: Any, name: str) -> tuple[Any, str, Any]:
    """``(owner, attribute, value)`` of the dotted attribute ``name`` of ``block``."""
    owner, parts = block, name.split(".")
    for part in parts[:-1]:
        if not hasattr(owner, part):
            raise ProbeError(f"invalid exposed={name!r}: {type(owner).__name__} has no "
                             f"attribute {part!r}")
        owner = getattr(owner, part)
    if not hasattr(owner, parts[-1]):
        raise ProbeError(f"invalid exposed={name!r}: {type(owner).__name__} has no attribute "
                         f"{parts[-1]!r}")
    return owner, parts[-1], getattr(owner, parts[-1])


def _record_call(run: Callable, owner: Any, attribute: str, value: Any,
                 x: torch.Tensor) -> list:
    """Run ``run(x)`` (one forward pass) and return the outputs of ``owner.attribute`` during
    the call."""
    recorded: list = []
    if isinstance(value, torch.nn.Module):
        handle = value.register_forward_hook(lambda _m, _i, out: recorded.append(out))
        try:
            with torch.no_grad():
                run(x)
        finally:
            handle.remove()
        return recorded

    def recording(*args, **kwargs):
        out = value(*args, **kwargs)
        recorded.append(out)
        return out

    had_own = attribute in vars(owner) if hasattr(owner, "__dict__") else False
    setattr(owner, attribute, recording)
    try:
        with torch.no_grad():
            run(x)
    finally:
        if had_own:
            setattr(owner, attribute, value)
        else:
            delattr(owner, attribute)
    return recorded


def first_square(value: Any, n: int, name: str) -> torch.Tensor:
    """The first ``(n, n)`` matrix of a tensor of shape ``(..., n, n)``, as float64."""
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        value = value[0]
    if not isinstance(value, torch.Tensor):
        raise ProbeError(f"invalid exposed={name!r}: it gave a {type(value).__name__}; "
                         f"allowed: a tensor of shape (..., {n}, {n})")
    if value.ndim < 2 or tuple(value.shape[-2:]) != (n, n):
        raise ProbeError(f"invalid exposed={name!r}: it gave shape {tuple(value.shape)}; "
                         f"allowed: (..., {n}, {n}) for {n} streams")
    return value.detach().reshape(-1, n, n)[0].to(torch.float64)


def exposed_reader(name: str, *, transpose: bool = False) -> Callable:
    """``(block, x, n) -> H``: read the mixing matrix a module exposes through ``name``.

    ``name`` is a dotted attribute of the block: a tensor (an ``(n, n)`` parameter or buffer),
    or a callable / submodule that the forward pass calls (its output during one forward pass
    at the sample input is recorded; the last call counts), or a method the forward pass does
    not call, which is then called with no arguments. The first ``(n, n)`` slice of a batched
    ``(..., n, n)`` result is taken (the first position). ``transpose=True`` for modules whose
    matrix has rows indexing the *input* stream (``y = A^T x``).
    """

    def read(block: Callable, x: torch.Tensor, n: int, run: Callable | None = None
             ) -> torch.Tensor:
        owner, attribute, value = _resolve(block, name)
        if isinstance(value, torch.Tensor):
            result = value
        elif callable(value):
            recorded = _record_call(run if run is not None else block, owner, attribute, value,
                                    x)
            if recorded:
                result = recorded[-1]
            else:
                with torch.no_grad():
                    result = value()
        else:
            raise ProbeError(f"invalid exposed={name!r}: a {type(value).__name__}; allowed: a "
                             f"tensor attribute or a callable the block calls")
        matrix = first_square(result, n, name)
        return matrix.T.contiguous() if transpose else matrix

    read.__name__ = f"exposed_reader({name!r}{', transpose=True' if transpose else ''})"
    return read


class ModuleFunction:
    """A module-level function named as the exposed matrix (``--exposed module:function``).

    When the block's forward pass calls it (through any module-level binding of the same
    function object, e.g. ``from .sinkhorn import sinkhorn_knopp``), its output during one
    forward pass at the sample input is recorded (the last call counts); otherwise it is
    called as ``function(block, x)``, an adapter. With ``arguments`` (``module:function(ARGS)``)
    it is called with those arguments instead, evaluated with ``block`` and ``x`` in scope.
    """

    def __init__(self, function: Callable, name: str,
                 arguments: Callable[[Any, torch.Tensor], tuple[tuple, dict]] | None = None):
        self.function, self.name, self.arguments = function, name, arguments

    def bindings(self) -> list[tuple[Any, str]]:
        """``(module, name)`` of every loaded module attribute bound to the function."""
        import sys

        found = []
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for key, value in list(namespace.items()):
                if value is self.function:
                    found.append((module, key))
        return found

    def read(self, block: Callable, x: torch.Tensor, n: int, run: Callable) -> torch.Tensor:
        if self.arguments is not None:
            args, kwargs = self.arguments(block, x)
            with torch.no_grad():
                return first_square(self.function(*args, **kwargs), n, self.name)
        recorded: list = []
        original = self.function

        def recording(*args, **kwargs):
            out = original(*args, **kwargs)
            recorded.append(out)
            return out

        bindings = self.bindings()
        for module, key in bindings:
            setattr(module, key, recording)
        try:
            with torch.no_grad():
                run(x)
        finally:
            for module, key in bindings:
                setattr(module, key, original)
        if recorded:
            return first_square(recorded[-1], n, self.name)
        with torch.no_grad():
            return first_square(original(block, x), n, self.name)
