"""How the probe calls a block: the forward's arguments, which part of its output is the next
state, and how the new state of a history window joins the window.

Real residual modules are rarely ``y = block(x)``. :class:`Invocation` describes the call:

``call`` — the argument list of the forward call, as in a Python call, evaluated at every call
    with ``x`` bound to the probe input, e.g. ``"torch.zeros_like(x[:, -1]), list(x.unbind(1))"``
    for ``forward(x, history)``. Inputs built from ``x`` are differentiated with it. Names in
    scope: ``x``, ``torch``, ``nn``, ``F`` (``torch.nn.functional``), Python's builtins and the
    target module's own names (:func:`expression_scope`). Or a callable ``x -> (args, kwargs)``.
``output`` — which part of the returned value is the block's next state (:func:`parse_selector`):
    ``"0"`` or ``"[0]"`` (tuple / list index), ``"hidden"`` (a dict key, else an attribute),
    ``"['hidden']"``, ``".last_hidden_state"``, chained as ``"[1].hidden"``. Or a callable.
``window`` — the block returns the **new last state** of a sliding window of states along the
    stream axis of a ``"... s d"`` input ``(..., K, d)``: its output ``(..., d)`` is appended to
    the window shifted by one,

    .. math:: (h_1, \\dots, h_K) \\mapsto (h_2, \\dots, h_K,\\ y),

    so that the probed ``K x K`` stream map is a companion matrix: the shift, with the weights
    the block gives the states of its window as its last row.

Nothing here is specific to a package: the CLI flags ``--call``, ``--output`` and
``--kind history-window`` build an :class:`Invocation`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping as MappingType

import torch

from entangled.theory.probe.mapping import ProbeError

_SELECTOR_STEP = re.compile(
    r"""\[\s*(?P<index>-?\d+)\s*\]                 # [0]
      | \[\s*(?P<quote>['"])(?P<key>.*?)(?P=quote)\s*\]   # ['key']
      | \.(?P<attr>[A-Za-z_]\w*)                  # .attribute
    """, re.VERBOSE)
_BARE_FIRST = re.compile(r"(?P<index>-?\d+)|(?P<name>[A-Za-z_]\w*)")


def expression_scope(module: Any = None, **names: Any) -> dict:
    """Names for the expressions of ``--init-args``, ``--call`` and ``--exposed fn(ARGS)``.

    The target module's own names (its globals: classes, config objects, helpers it imports),
    then ``torch``, ``nn``, ``F`` (``torch.nn.functional``) and Python's builtins, then
    ``names`` (e.g. ``x``, ``block``). Later entries win.
    """
    import builtins

    scope: dict[str, Any] = {}
    if module is not None:
        scope.update(vars(module))
    scope.update({"torch": torch, "nn": torch.nn, "F": torch.nn.functional,
                  "__builtins__": builtins})
    scope.update(names)
    return scope


def parse_call_arguments(text: str, flag: str) -> ast.Call:
    """The argument list ``text`` parsed as the arguments of a Python call (checked)."""
    if not isinstance(text, str):
        raise ProbeError(f"invalid {flag}={text!r}; allowed: a string of call arguments")
    try:
        call = ast.parse(f"_f({text})", mode="eval").body
    except SyntaxError as exc:
        raise ProbeError(f"invalid {flag}={text!r}: {exc.msg}; allowed: arguments as in a "
                         "Python call, e.g. 'x, history=list(x.unbind(1))'") from None
    if not isinstance(call, ast.Call):  # e.g. text = ") + (1" parses as something else
        raise ProbeError(f"invalid {flag}={text!r}; allowed: arguments as in a Python call")
    return call


def compile_arguments(text: str, scope: dict, flag: str, params: tuple[str, ...] = ()
                      ) -> Callable[..., tuple[tuple, dict]]:
    """``(*params) -> (args, kwargs)``: the argument list ``text`` as a function of ``params``
    (e.g. ``("x",)``), evaluated in ``scope`` at every call; errors name ``flag``."""
    parse_call_arguments(text, flag)
    source = f"lambda {', '.join(params)}: _pack_call_arguments({text})"
    names = dict(scope)
    names["_pack_call_arguments"] = lambda *args, **kwargs: (args, kwargs)
    function = eval(compile(source, f"<{flag}>", "eval"), names)

    def arguments(*values: Any) -> tuple[tuple, dict]:
        try:
            return function(*values)
        except ProbeError:
            raise
        except Exception as exc:
            shapes = ", ".join(f"{name} of shape {tuple(v.shape)}" for name, v in
                               zip(params, values) if isinstance(v, torch.Tensor))
            raise ProbeError(f"invalid {flag}={text!r}: evaluating it"
                             + (f" with {shapes}" if shapes else "")
                             + f" raised {type(exc).__name__}: {exc}") from None

    arguments.__name__ = f"call({text})"
    return arguments


def compile_call(text: str, scope: dict, flag: str = "--call") -> Callable:
    """``x -> (args, kwargs)`` from the argument list ``text`` (see the module docstring)."""
    return compile_arguments(text, scope, flag, ("x",))


@dataclass(frozen=True)
class Selector:
    """Steps into a forward's return value: ``("index", 0)``, ``("key", "h")``,
    ``("attr", "h")`` or ``("name", "h")`` (a key of a mapping, else an attribute)."""

    text: str
    steps: tuple[tuple[str, Any], ...]

    def __call__(self, value: Any) -> Any:
        for kind, item in self.steps:
            value = self._step(value, kind, item)
        return value

    def _step(self, value: Any, kind: str, item: Any) -> Any:
        where = f"invalid --output={self.text!r}"
        if kind == "index":
            if not isinstance(value, (tuple, list)):
                raise ProbeError(f"{where}: [{item}] needs a tuple or list; the block returned "
                                 f"a {type(value).__name__}")
            if not -len(value) <= item < len(value):
                raise ProbeError(f"{where}: index {item} out of range; the block returned "
                                 f"{len(value)} values")
            return value[item]
        if kind in ("key", "name") and isinstance(value, MappingType):
            if item not in value:
                keys = ", ".join(map(repr, value)) or "none"
                raise ProbeError(f"{where}: no key {item!r}; the block returned keys {keys}")
            return value[item]
        if kind == "key":
            raise ProbeError(f"{where}: [{item!r}] needs a dict; the block returned a "
                             f"{type(value).__name__}")
        if not hasattr(value, item):
            raise ProbeError(f"{where}: the block's {type(value).__name__} has no attribute "
                             f"{item!r}")
        return getattr(value, item)


def parse_selector(text: str) -> Selector:
    """``"0"``, ``"hidden"``, ``"[0]"``, ``"['h']"``, ``".h"``, ``"[1].h"`` -> :class:`Selector`."""
    if not isinstance(text, str) or not text.strip():
        raise ProbeError(f"invalid --output={text!r}; allowed: an index (0), a key or "
                         "attribute name (hidden), or a chain such as [1].hidden or ['h']")
    rest, steps = text.strip(), []
    bare = _BARE_FIRST.match(rest)
    if bare:
        steps.append(("index", int(bare["index"])) if bare["index"] is not None
                     else ("name", bare["name"]))
        rest = rest[bare.end():]
    while rest:
        step = _SELECTOR_STEP.match(rest)
        if step is None:
            raise ProbeError(f"invalid --output={text!r} at {rest!r}; allowed: an index (0), "
                             "a key or attribute name (hidden), or a chain such as [1].hidden "
                             "or ['h']")
        if step["index"] is not None:
            steps.append(("index", int(step["index"])))
        elif step["attr"] is not None:
            steps.append(("attr", step["attr"]))
        else:
            steps.append(("key", step["key"]))
        rest = rest[step.end():]
    return Selector(text, tuple(steps))


@dataclass(frozen=True)
class Invocation:
    """How to call a block on the probe input: ``select(block(*args(x), **kwargs(x)))``, the
    result appended to the shifted window when ``window`` (see the module docstring)."""

    arguments: Callable[[torch.Tensor], tuple[tuple, dict]] | None = None
    output: Callable[[Any], Any] | None = None
    window: bool = False

    @property
    def plain(self) -> bool:
        """``block(x)`` itself."""
        return self.arguments is None and self.output is None and not self.window

    def __call__(self, block: Callable, x: torch.Tensor) -> Any:
        if self.arguments is None:
            out = block(x)
        else:
            args, kwargs = self.arguments(x)
            out = block(*args, **kwargs)
        if self.output is not None:
            out = self.output(out)
        if self.window:
            out = append_to_window(x, out)
        return out

    def describe(self) -> str:
        """Words for the report: how the block was called."""
        parts = []
        if self.arguments is not None:
            parts.append(f"forward {getattr(self.arguments, '__name__', 'call(...)')}")
        if self.output is not None:
            parts.append(f"output {getattr(self.output, 'text', None) or 'selected'}")
        if self.window:
            parts.append("the output appended to the shifted window of states")
        return "; ".join(parts) or "block(x)"


def append_to_window(window: torch.Tensor, new: Any) -> Any:
    """``(..., K, d)`` window and a new state ``(..., d)`` -> the window shifted by one with the
    new state last; a result already shaped like the window is returned as is."""
    if not isinstance(new, torch.Tensor):
        return new
    if tuple(new.shape) == tuple(window.shape):
        return new
    expected = tuple(window.shape[:-2]) + tuple(window.shape[-1:])
    if window.ndim < 2 or tuple(new.shape) != expected:
        raise ProbeError(f"a history-window block must return the new state of shape "
                         f"{expected} (or the whole window {tuple(window.shape)}); it returned "
                         f"shape {tuple(new.shape)}")
    return torch.cat([window[..., 1:, :], new.unsqueeze(-2)], dim=-2)


def make_invocation(call: Any = None, output: Any = None, *, window: bool = False,
                    scope: dict | None = None) -> Invocation:
    """An :class:`Invocation` from the spec / CLI values (strings are parsed here)."""
    if isinstance(call, str):
        arguments = compile_call(call, scope if scope is not None else expression_scope())
    elif call is None or callable(call):
        arguments = call
    else:
        raise ProbeError(f"invalid call={call!r}; allowed: a string of call arguments with x "
                         "the probe input, or a callable x -> (args, kwargs)")
    if isinstance(output, str):
        selector = parse_selector(output)
    elif output is None or callable(output):
        selector = output
    else:
        raise ProbeError(f"invalid output={output!r}; allowed: a selector string such as 0, "
                         "hidden or [1].hidden, or a callable value -> tensor")
    return Invocation(arguments, selector, bool(window))
