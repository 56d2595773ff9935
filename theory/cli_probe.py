"""``entangled probe TARGET``: measure the skip map a residual module applies and check claims.

TARGET is ``package.module:NAME`` or ``path/to/file.py:NAME``. ``NAME`` is either

* a factory called with no arguments that returns ``(block, sample_input)`` or a dict with the
  keys ``block`` and ``input`` and optionally the options below (see
  :func:`entangled.theory.probe.probe_spec`), or
* a module class (an ``nn.Module`` subclass), built with ``--init-args`` and probed at a seeded
  ``N(0, 1)`` input of shape ``--input-shape``.

Everything else comes from flags, which override the factory's values: ``--layout``,
``--streams``, ``--dim``, ``--silence SUBMODULE`` (repeatable) or ``--no-branch``,
``--exposed ATTRIBUTE`` (or ``module:function``, recorded when the forward pass calls it and
otherwise called as ``function(block, x)``, or ``module:function(ARGS)``),
``--exposed-transposed``, ``--perturb GLOB[:SCALE]``, ``--tol``; how the block is called:
``--call ARGS`` (the forward's arguments built from the probe input ``x``), ``--output
SELECTOR`` (an index, key or attribute of what it returns); what it is: ``--kind``,
``--pre-activation SUBMODULE``, ``--claims``; and ``--calls N``, ``--dtype``, ``--mixing GLOB``.
Expressions (``--init-args``, ``--call``, ``--exposed fn(ARGS)``) see the target module's own
names, ``torch``, ``nn`` and ``F``. The current directory is put on ``sys.path`` first, so
``examples.my_module:factory`` works from the repo root.

The target's module, its factory (or class) and the probe run isolated in a child process
(:mod:`entangled.theory.isolation`), in two steps each limited by ``--timeout`` seconds: loading TARGET and
calling its factory, then probing the block and checking the claims. A factory or block that
calls ``sys.exit``/``os._exit``, raises anything, crashes or hangs is reported by name (exit
status 2); it never ends or blocks the command itself.

Exit status: 0 when every verdict matches its expectation, 1 when one does not, 2 for usage
errors, targets or conjecture files that fail to load, and factories or blocks that exit, raise,
crash or exceed ``--timeout``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import os
import re
import sys
from pathlib import Path

from entangled.commands import add_json_argument, text_stream, write_json_output
from entangled.theory.cli_verify import _positive_float


def _tolerance(text: str) -> float:
    """``--tol``: a finite number >= 0."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"invalid TOL={text!r}; allowed: a finite number >= 0")
    return value


HELP = "measure the skip mapping a residual module actually applies"
BLOCK_KIND_NAMES = ("stream-mixing", "scalar-gated", "post-activation", "history-window")
MATRIX_PRINT_LIMIT = 12
#: Default of ``--timeout``: seconds for each of the two isolated steps (load TARGET and call
#: its factory; probe the block and check the claims).
DEFAULT_TIMEOUT = 300.0
#: Modules the isolated child imports before the time limit starts (torch among them).
CHILD_PRELOAD = ("entangled.theory.cli_probe", "entangled.theory.probe", "entangled.theory.loader", "entangled.mappings")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="package.module:NAME or path/to/file.py:NAME; NAME is a factory "
                             "taking no arguments that returns (block, sample_input) or a dict "
                             "(keys block, input and the options below), or an nn.Module class "
                             "(with --init-args and --input-shape)")
    parser.add_argument("--init-args", default="", metavar="ARGS",
                        help="constructor arguments of a class TARGET, as in a Python call: "
                             "'4, dim=16, branch=nn.Linear(16, 16)' or 'BlockConfig(dim=16)'; "
                             "the target module's own names, torch, nn and F are in scope")
    parser.add_argument("--input-shape", default=None, metavar="SHAPE",
                        help="shape of the seeded N(0, 1) sample input for a class TARGET, "
                             "e.g. 2,3,4,16")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the module's initialisation and of the sample input "
                             "(class TARGET; default 0)")
    parser.add_argument("--layout", default=None, metavar="LAYOUT",
                        help="where streams sit in the input: '... s d', '... f', "
                             "'(b s) ... d', 'b f ...' or 'auto' (overrides the factory)")
    parser.add_argument("--streams", type=int, default=None, metavar="N",
                        help="number of residual streams n (overrides the factory)")
    parser.add_argument("--dim", type=int, default=None, metavar="D",
                        help="width d of each stream (overrides the factory)")
    parser.add_argument("--silence", action="append", default=None, metavar="SUBMODULE",
                        help="submodule whose output is replaced by zeros (the residual "
                             "branch); repeatable")
    parser.add_argument("--no-branch", action="store_true",
                        help="the block has no residual branch (it is a bare skip)")
    parser.add_argument("--exposed", default=None, metavar="ATTRIBUTE_OR_CALLABLE",
                        help="the mixing matrix the module claims to apply: a dotted attribute "
                             "(a tensor, or a callable/submodule the forward pass calls; its "
                             "output is recorded); module:function (a module-level function: "
                             "its output is recorded when the forward pass calls it, else it "
                             "is called as function(block, x)); or module:function(ARGS) "
                             "called with ARGS (block, x and the target's names in scope)")
    parser.add_argument("--exposed-transposed", action="store_true",
                        help="the exposed matrix has rows indexing the input stream "
                             "(y = A^T x): compare its transpose")
    parser.add_argument("--perturb", default=None, metavar="GLOB[:SCALE]",
                        help="move the parameters whose names match GLOB by seeded Gaussian "
                             "noise of standard deviation SCALE (default 1) for the "
                             "'mixing is live' claim")
    parser.add_argument("--call", default=None, metavar="ARGS",
                        help="the forward's arguments as in a Python call, built from the probe "
                             "input x at every call, e.g. 'torch.zeros_like(x[:, -1]), "
                             "history=list(x.unbind(1))' (default: x)")
    parser.add_argument("--output", default=None, metavar="SELECTOR",
                        help="which part of the forward's return value is the next state: an "
                             "index (0), a key or attribute (hidden), or a chain ([1].hidden, "
                             "['h'])")
    parser.add_argument("--kind", default=None, choices=list(BLOCK_KIND_NAMES),
                        help="the block's declared kind, which decides the claims that apply "
                             "(default stream-mixing); history-window appends the block's "
                             "output (the new state) to the shifted window given as input")
    parser.add_argument("--pre-activation", default=None, metavar="SUBMODULE",
                        help="measure at the input of this submodule (an activation or norm "
                             "applied after the residual sum), the pre-activation point")
    parser.add_argument("--claims", default=None, metavar="NAMES",
                        help="claims to check, comma-separated: NAME selects only the named "
                             "claims, +NAME adds an opt-in claim (e.g. +skip_is_identity), "
                             "-NAME removes one (write --claims=-NAME); the others are listed "
                             "as not applicable")
    parser.add_argument("--calls", type=int, default=None, metavar="N",
                        help="measure the skip map at N successive calls of one instance "
                             "(default 3; 1 turns the check off)")
    parser.add_argument("--dtype", default=None, choices=["float64", "float32", "bfloat16",
                                                          "float16"],
                        help="the precision the block is probed in (default float64)")
    parser.add_argument("--mixing", default=None, metavar="GLOB",
                        help="the mixing parameters whose gradient is checked (default the "
                             "glob of --perturb)")
    parser.add_argument("--tol", type=_tolerance, default=None, metavar="TOL",
                        help="replace the numerical tolerance of the probed claims")
    parser.add_argument("--html", default=None, metavar="DIR",
                        help="write a self-contained page DIR/index.html (heatmap, "
                             "diagnostics, ledger)")
    add_json_argument(parser, "the probed mapping and the ledger")
    parser.add_argument("--conjectures", action="append", default=[], metavar="PATH",
                        help="extra conjectures (.py file, directory or module) whose families "
                             "include 'probed'; repeatable")
    parser.add_argument("--timeout", metavar="SECONDS", type=_positive_float,
                        default=DEFAULT_TIMEOUT,
                        help="time limit of each isolated step: loading TARGET and calling its "
                             "factory, then probing the block and checking the claims (default "
                             f"{DEFAULT_TIMEOUT:g} s); past it the step is stopped, exit 2")
    parser.add_argument("--in-process", action="store_true",
                        help="trusted code only: run the factory and the probe in this process "
                             "(no child process to start, a few seconds faster; a factory that "
                             "exits or hangs then ends or blocks the command, no --timeout)")


def describe_exception(exc: BaseException) -> str:
    """What user code did, in words: ``called sys.exit(0)`` or ``raised ValueError: ...``."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    return f"raised {type(exc).__name__}: {exc}" if str(exc) else f"raised {type(exc).__name__}"


def parse_target(target: str, what: str = "TARGET") -> tuple[str, str, Path | None]:
    """``(where, name, file)`` of ``module:name`` (``file`` None) or ``file.py:name`` (checked to
    exist); runs no user code, so the parent checks TARGET before starting the child."""
    from entangled.theory.probe.mapping import ProbeError

    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise ProbeError(f"invalid {what}={target!r}; allowed: 'package.module:name' or "
                         "'path/to/file.py:name'")
    where, name = target.split(":")
    if not (where.endswith(".py") or os.sep in where or "/" in where):
        return where, name, None
    path = Path(where).expanduser().resolve()
    if not path.is_file():
        raise ProbeError(f"invalid {what}={target!r}: no file {where}")
    return where, name, path


def load_factory(target: str, what: str = "TARGET"):
    """The callable named by ``module:factory`` or ``file.py:factory``."""
    from entangled.theory.probe import ProbeError

    where, name, path = parse_target(target, what)
    try:
        if path is not None:
            module_name = f"_entangled_probe_{abs(hash(str(path)))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ProbeError(f"cannot load {path} as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.parent))
            try:
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
        else:
            cwd = os.getcwd()
            if cwd not in sys.path:
                sys.path.insert(0, cwd)
            module = importlib.import_module(where)
    except ProbeError:
        raise
    except BaseException as exc:  # runs in the isolated child: sys.exit at import included
        raise ProbeError(f"could not load {what} {target!r}: importing it "
                         f"{describe_exception(exc)}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ProbeError(f"invalid {what}={target!r}: {where} has no callable {name!r}")
    return factory


def parse_init_args(text: str, module=None) -> tuple[list, dict]:
    """``"4, dim=16, branch=nn.Linear(16, 16)"`` -> positional and keyword arguments.

    Parsed as the argument list of a Python call and evaluated with the target ``module``'s
    own names (e.g. its config class), ``torch``, ``nn``, ``F`` and Python's builtins in scope
    (:func:`entangled.theory.probe.invoke.expression_scope`).
    """
    from entangled.theory.probe.invoke import compile_arguments, expression_scope

    if not text.strip():
        return [], {}
    positional, keywords = compile_arguments(text, expression_scope(module), "--init-args")()
    return list(positional), keywords


def parse_shape(text: str | None) -> tuple[int, ...]:
    """``"2,3,16"`` -> ``(2, 3, 16)`` (positive integers)."""
    from entangled.theory.probe import ProbeError

    try:
        shape = tuple(int(p) for p in (text or "").replace("x", ",").split(",") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise ProbeError(f"invalid --input-shape={text!r}; allowed: positive integers separated "
                         "by commas, e.g. 2,3,16 (required for a class TARGET)")
    return shape


def target_module(obj):
    """The module that defines ``obj`` (the target's namespace for expressions), or None."""
    import inspect

    return inspect.getmodule(obj)


def build_spec(args: argparse.Namespace):
    """The factory's result, or for a class TARGET ``{"block": cls(*init), "input": x}``."""
    import inspect

    import torch

    from entangled.theory.probe import ProbeError

    obj = load_factory(args.target)
    _BUILT["module"] = target_module(obj)
    if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
        positional, keywords = parse_init_args(args.init_args, _BUILT["module"])
        shape = parse_shape(args.input_shape)
        torch.manual_seed(args.seed)
        try:
            block = obj(*positional, **keywords)
        except BaseException as exc:  # runs in the isolated child
            raise ProbeError(f"{args.target}({args.init_args}) "
                             f"{describe_exception(exc)}") from None
        generator = torch.Generator().manual_seed(args.seed + 1)
        x = torch.randn(shape, generator=generator, dtype=torch.float64)
        return {"block": block, "input": x, "source": f"{args.target}({args.init_args})"}
    if args.init_args or args.input_shape:
        raise ProbeError(f"--init-args / --input-shape need a class TARGET; {args.target} is "
                         f"a {type(obj).__name__}")
    try:
        return obj()
    except BaseException as exc:  # runs in the isolated child
        raise ProbeError(f"the factory {args.target} {describe_exception(exc)}") from None


EXPOSED_FUNCTION = re.compile(r"^(?P<target>[^:()\s]+:[A-Za-z_]\w*)(?:\((?P<args>.*)\))?$",
                              re.DOTALL)


def parse_exposed(text: str | None) -> tuple[str | None, str | None]:
    """``(target, args)`` of ``module:function`` / ``module:function(ARGS)`` (``args`` None
    without parentheses), or ``(None, None)`` for an attribute name; checks the target."""
    from entangled.theory.probe.mapping import ProbeError

    if text is None or ":" not in text:
        return None, None
    found = EXPOSED_FUNCTION.match(text.strip())
    if found is None:
        raise ProbeError(f"invalid --exposed={text!r}; allowed: a dotted attribute of the "
                         "block, module:function or module:function(ARGS)")
    parse_target(found["target"], what="--exposed")
    return found["target"], found["args"]


def exposed_option(text: str | None, module=None):
    """``--exposed``: an attribute name, or a module-level function (see :func:`parse_exposed`)
    as a :class:`~entangled.theory.probe.blocks.ModuleFunction`."""
    from entangled.theory.probe.blocks import ModuleFunction
    from entangled.theory.probe.invoke import compile_arguments, expression_scope

    target, arguments = parse_exposed(text)
    if target is None or text is None:
        return text
    function = load_factory(target, what="--exposed")
    if arguments is None:
        return ModuleFunction(function, text)
    return ModuleFunction(function, text, compile_arguments(
        arguments, expression_scope(module), "--exposed", ("block", "x")))


def format_matrix(matrix, limit: int = MATRIX_PRINT_LIMIT) -> str:
    """Rows of the matrix with 4 decimals (the top-left ``limit x limit`` corner when larger)."""
    n = matrix.shape[0]
    shown = matrix[:limit, :limit].tolist()
    lines = ["  " + " ".join(f"{v:8.4f}" for v in row) + (" ..." if n > limit else "")
             for row in shown]
    if n > limit:
        lines.append(f"  ... ({n} x {n}, top-left {limit} x {limit} shown)")
    return "\n".join(lines)


def _value(entry) -> str:
    if entry.worst is None:
        cx = entry.counterexample
        if entry.verdict == "falsified" and cx is not None:
            return f"value={cx.get('value')}"
        return ""
    return f"worst={entry.worst:.3g} (tol {entry.tol:g})"


def _gap(value) -> str:
    return "not measured" if value is None else f"{value:.3g}"


#: The options of :func:`add_arguments` that travel to the isolated child (JSON values).
CHILD_OPTIONS = ("target", "init_args", "input_shape", "seed", "layout", "streams", "dim",
                 "silence", "no_branch", "exposed", "exposed_transposed", "perturb", "tol",
                 "html", "conjectures", "call", "output", "kind", "pre_activation", "claims",
                 "calls", "dtype", "mixing")

#: Child-side state between the two isolated steps: what the factory returned.
_BUILT: dict = {}


def run(args: argparse.Namespace) -> int:
    """Load TARGET, call its factory and probe the block in an isolated child process."""
    from entangled.theory.probe.mapping import ProbeError

    parse_target(args.target)                    # usage errors before any process starts
    parse_exposed(args.exposed)
    if args.input_shape is not None:
        parse_shape(args.input_shape)
    if args.output is not None:
        from entangled.theory.probe.invoke import parse_selector

        parse_selector(args.output)
    if args.call is not None:
        from entangled.theory.probe.invoke import parse_call_arguments

        parse_call_arguments(args.call, "--call")
    if args.calls is not None and not 1 <= args.calls <= 100:
        raise ProbeError(f"invalid --calls={args.calls}; allowed: an integer in [1, 100]")
    options = {name: getattr(args, name) for name in CHILD_OPTIONS}
    if args.in_process:
        for step in (isolated_build, isolated_probe):
            output = step(options)
            if output["error"] is not None:
                raise ProbeError(output["error"])
    else:
        output = run_isolated(options, args.target, args.timeout)
    sys.stderr.write(output["stderr"])
    if output["status"] != 2:
        stream = text_stream(args.json)
        stream.write(output["stdout"])
        stream.flush()
        write_json_output(args.json, output["data"])
    return output["status"]


def run_isolated(options: dict, target: str, timeout: float) -> dict:
    """:func:`isolated_build` then :func:`isolated_probe` in one child process, each within
    ``timeout`` seconds; raises ProbeError naming the step that exited, raised or hung."""
    from entangled.theory.isolation import Worker, WorkerStartError
    from entangled.theory.probe.mapping import ProbeError

    steps = (("entangled.theory.cli_probe:isolated_build", f"the factory {target}"),
             ("entangled.theory.cli_probe:isolated_probe", f"probing the block built by {target}"))
    with Worker(preload=CHILD_PRELOAD) as worker:
        for function, what in steps:
            try:
                result = worker.call(function, options, timeout=timeout)
            except WorkerStartError as exc:
                raise ProbeError(str(exc)) from None
            if not result.ok:
                raise ProbeError(isolation_failure(what, result, timeout))
            if result.value.get("error") is not None:
                raise ProbeError(result.value["error"])
    return result.value


def isolation_failure(what: str, result, timeout: float) -> str:
    """The message for an isolated step that did not return (``result`` a failed
    :class:`entangled.theory.isolation.CallResult`)."""
    if result.reason == "timeout":
        return (f"{what} did not finish within {timeout:g} s (--timeout); the process running "
                "it was stopped")
    if result.reason == "exited":
        return f"{what} ended the process running it: {result.error.split(': ', 1)[-1]}"
    last = (result.error or "").strip().splitlines()[-1:] or ["no details"]
    return f"{what} failed: {last[0]}"


def isolated_build(options: dict) -> dict:
    """Child side, step 1: load TARGET and call its factory (or build the class).

    Returns ``{"error": message}`` for a ProbeError, else ``{"error": None}``; the spec stays
    in this process for :func:`isolated_probe`.
    """
    from entangled.theory.probe.mapping import ProbeError

    try:
        _BUILT["spec"] = build_spec(argparse.Namespace(**options))
    except ProbeError as exc:
        return {"error": str(exc)}
    return {"error": None}


def isolated_probe(options: dict) -> dict:
    """Child side, step 2: probe what :func:`isolated_build` built and check the claims.

    Returns ``{"error": message}`` when the probe cannot run, else ``{"error": None,
    "status": exit status, "stdout": report text, "stderr": warnings and load errors,
    "data": the JSON data of --json}``.
    """
    from entangled.theory.probe.mapping import ProbeError

    args = argparse.Namespace(**options)
    out, err = io.StringIO(), io.StringIO()
    try:
        status, data = probe_and_report(args, _BUILT.pop("spec"), out, err)
    except ProbeError as exc:
        return {"error": str(exc)}
    except BaseException as exc:  # the block's forward pass or a conjecture exited / raised
        return {"error": f"probing the block built by {args.target} failed: the block "
                         f"{describe_exception(exc)}"}
    return {"error": None, "status": status, "stdout": out.getvalue(),
            "stderr": err.getvalue(), "data": data}


def probe_and_report(args: argparse.Namespace, spec, out, err) -> tuple[int, dict | None]:
    """Probe ``spec``, check the claims, write the report to ``out`` (warnings and load errors
    to ``err``) and the page; returns the exit status and the JSON data."""
    import warnings

    from entangled.theory.engine import dedupe
    from entangled.theory.loader import load_builtin, load_sources
    from entangled.theory.probe import ProbeError, ProbeWarning, check_probed, probe_spec

    module = _BUILT.pop("module", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProbeWarning)
        m = probe_spec(spec, source=args.target, streams=args.streams, dim=args.dim,
                       layout=args.layout, silence=args.silence,
                       no_branch=True if args.no_branch else None,
                       exposed=exposed_option(args.exposed, module),
                       exposed_transposed=True if args.exposed_transposed else None,
                       perturb=args.perturb, call=args.call, output=args.output,
                       kind=args.kind, pre_activation=args.pre_activation, calls=args.calls,
                       dtype=args.dtype, mixing=args.mixing,
                       names=vars(module) if module is not None else None)
    for warning in caught:
        if issubclass(warning.category, ProbeWarning):
            print(f"entangled probe: WARNING: {warning.message}", file=err)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)

    try:
        conjectures = load_builtin()
    except Exception as exc:
        print(f"entangled probe: error: the built-in conjecture catalog failed to load: "
              f"{type(exc).__name__}: {exc}", file=err)
        return 2, None
    if args.conjectures:
        found, errors = load_sources(args.conjectures)
        if errors:
            for error in errors:
                print(f"entangled probe: error: could not load {error['source']}:\n"
                      f"{error['error']}", file=err)
            return 2, None
        conjectures = dedupe(conjectures + found)
    from entangled.errors import InvalidParameterError

    try:
        ledger, skipped = check_probed(m, conjectures, tol=args.tol, claims=args.claims)
    except InvalidParameterError as exc:        # --claims naming an unknown claim
        raise ProbeError(str(exc)) from None
    description = spec.get("description") if isinstance(spec, dict) else None
    write_report(m, ledger, skipped, description, out)
    if args.html:
        from entangled.theory.probe.page import page_data, write_page

        path = write_page(args.html, page_data(m, ledger, skipped, target=args.target,
                                               description=description))
        print(f"page written to {path}", file=out)
    block = spec.get("block") if isinstance(spec, dict) else spec[0]
    data = {"probe": m.to_dict(), "ledger": ledger.to_dict(),
            "not_applicable": [{"conjecture": c.name, "reason": r} for c, r in skipped],
            "implementation": implementation_info(args.target, block)}
    return (0 if ledger.all_match() else 1), data


def implementation_info(target: str, block) -> dict:
    """Who was probed, for the conformance page (``entangled conformance``): ``target``, the
    block's ``class`` (module and qualified name; a function's own name), its top-level
    ``package`` and that package's ``version`` (installed distribution metadata, else the
    package's ``__version__``; ``None`` for a file TARGET), and this tool's version."""
    from importlib import metadata

    import torch

    from entangled import __version__

    owner = type(block) if isinstance(block, torch.nn.Module) else block
    module_name = getattr(owner, "__module__", None) or ""
    name = getattr(owner, "__qualname__", None) or type(owner).__name__
    package: str | None = module_name.split(".")[0] if module_name else None
    if package is not None and package.startswith("_entangled_probe_"):   # a file TARGET
        package = None
    version = None
    if package is not None:
        for dist in metadata.packages_distributions().get(package, []):
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        if version is None:
            root = sys.modules.get(package)
            version = getattr(root, "__version__", None)
    return {"target": target, "package": package,
            "version": None if version is None else str(version),
            "class": name if package is None else f"{module_name}.{name}",
            "entangled": __version__}


def write_report(m, ledger, skipped, description: str | None, out) -> None:
    """The human-readable probe report: stream map, diagnostics and the ledger."""
    import torch
    def say(text: str = "") -> None:
        print(text, file=out)

    p = m.params
    say(f"probe of {p['source']}" + (f" — {description}" if description else ""))
    if p["scope"] != "skip":
        say("  WHOLE BLOCK: no branch was silenced; the map includes the branch and the "
            "skip-path claims are not applicable (use --silence SUBMODULE or --no-branch)")
    say(f"  input {tuple(p['input_shape'])}, layout {p['layout']!r}, {p['streams']} streams "
        f"of width {p['dim']}, {p['dtype']}, Jacobian by {p['jacobian_method']}")
    say(f"  kind {p['kind']!r}, called as {p['invocation']}"
        + (f", measured at the input of {p['measured_at']!r} (pre-activation)"
           if p["measured_at"] else ""))
    say(f"stream map H ({m.n} x {m.n}), y_i = sum_j H_ij x_j:")
    say(format_matrix(m.dense()))
    exposed = m.exposed_matrix()
    if exposed is not None:
        gap = float((m.dense() - exposed).abs().max())
        say(f"mixing matrix the module computes: max |H - exposed| = {gap:.3g}")
        if gap > 1e-5:
            say(format_matrix(exposed))
    say(f"Kronecker residual ||J - H ⊗ I_d||_F / ||J||_F = {p['kronecker_residual']:.3g}")
    say(f"cross-position leakage = {p['cross_position']:.3g}, "
        f"position spread = {p['position_spread']:.3g}, "
        f"per-layer skip gain = {p['skip_gain']:.4g}")
    say(f"autograd vs finite differences = {_gap(p['autograd_gap'])}, same input twice = "
        f"{_gap(p['repeat_gap'])}, batch item alone = {_gap(p['batch_gap'])}")
    if p["call_drift"] is not None:
        say(f"skip map over {p['calls']} successive calls of one instance: largest relative "
            f"change from call 1 = {p['call_drift']:.3g}")
        if p["call_drift"] > 1e-6:
            for k, later in enumerate(m.params["call_maps"], 2):
                say(f"  call {k}:")
                say(format_matrix(torch.tensor(later, dtype=torch.float64)))
    if p["mixing_gradients"] is not None:
        say("gradient reaching the mixing parameters (max |dL/dp|, "
            f"{p['dtype']}): " + ", ".join(f"{k} {v if isinstance(v, str) else f'{v:.3g}'}"
                                           for k, v in p["mixing_gradients"].items()))
    for note in p["notes"]:
        say(f"note: {note}")
    say()
    say("ledger:")
    for entry in ledger.entries:
        mark = "ok " if entry.matches_expected else "!! "
        say(f"  {mark}{entry.verdict:<10} {entry.short_name:<38} {_value(entry)}")
        if not entry.matches_expected:
            say(f"       claim: {entry.statement}")
            if entry.verdict == "error" and entry.error:
                say("       " + entry.error.strip().splitlines()[-1])
            elif entry.verdict == "falsified":
                say(f"       expected {entry.expected}; measured "
                    f"{entry.worst if entry.worst is not None else 'False'}")
    for conj, reason in skipped:
        say(f"  n/a {conj.short_name:<49} {reason}")
    summary = ledger.summary()
    say(f"{summary['total']} claims: {summary['holds']} hold, {summary['falsified']} falsified, "
        f"{summary['error']} errors; {summary['mismatching']} differ from the expectation"
        f" ({len(skipped)} not applicable)")
