"""One registry implementation for everything that plugs into entangled.

Mapping families, architectures, tasks, ``entangled`` subcommands and report sections are each
a :class:`Registry`. Every registry fills itself in three ways, and behaves the same way for all
five kinds:

* **built-ins** register when their module is imported (``entangled.*`` modules);
* **installed packages** through an entry-point group (``entangled.families``,
  ``entangled.architectures``, ``entangled.tasks``, ``entangled.commands``,
  ``entangled.report_sections``), loaded once, the first time the registry is read; an entry
  point names an entry object or a module that registers its entries when imported. A plug-in
  that fails to load is reported with a :class:`RuntimeWarning` naming it and never breaks the
  library;
* **at run time**, by a script or a notebook calling the kind's ``register...`` function.

Every registry lists its names (:meth:`Registry.names`) and answers an unknown name with the same
:class:`UnknownEntryError` (``invalid arch='mlp'; allowed: one of cnn, vit, ...``); registering a
second, different entry under a taken name is an :class:`~entangled.errors.EntangledError`
naming the module that holds it.

Worker processes (``--jobs N``, Dask) import the built-ins and the installed plug-ins
themselves; entries registered at run time travel to them with :func:`portable_registrations`
(pickled by reference: a class or function defined at the top level of an importable module or
of the script itself) and :func:`restore_registrations`. An entry that cannot travel (a lambda,
a class defined inside a function, code typed at ``python -c``) is refused with an error naming
it before anything trains.

Tests register temporarily with :meth:`Registry.scoped` (and :meth:`Registry.temporarily`),
which undoes every registration of the block, and can give a registry fake entry points there.
"""

from __future__ import annotations

import contextlib
import contextvars
import pickle
import sys
import warnings
from importlib import import_module, metadata
from types import ModuleType
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar, cast

from entangled.errors import EntangledError, InvalidParameterError, UnknownEntryError

T = TypeVar("T")

#: Where an entry came from (:meth:`Registry.origin`).
BUILTIN, PLUGIN, RUNTIME = "built-in", "plug-in", "run time"
#: Modules whose registrations are built-ins (every worker imports them itself).
BUILTIN_PACKAGE = "entangled"

# Set while an entry point is loaded: what a plug-in module registers on import is a plug-in.
_loading_plugin: contextvars.ContextVar[bool] = contextvars.ContextVar("loading_plugin",
                                                                       default=False)
# Every registry by entry-point group (the key that pickled registrations refer to).
_REGISTRIES: dict[str, "Registry"] = {}


class Registry(Generic[T]):
    """Named entries of one kind: built-ins, entry-point plug-ins and run-time registrations.

    Parameters
    ----------
    kind : what an entry is, in messages (``"family"``, ``"architecture"``, ...).
    group : the entry-point group plug-ins use (also the registry's identity, see
        :func:`registry_for_group`).
    parameter : the parameter named by the unknown-name error (``"family"``, ``"arch"``, ...).
    from_plugin : ``from_plugin(name, loaded) -> entry | None``: the entry of what an entry
        point named (``None``: a module that registered its entries itself on import).
        Default: the loaded object is the entry.
    identity : the object that makes two entries the same (the family class, the model, the
        loader...). Default: the entry itself.
    sort : list names sorted (``True``) or in registration order (built-ins first).
    lazy : register the :class:`importlib.metadata.EntryPoint` objects themselves without
        loading them (commands: the CLI loads only the one it runs).
    error : ``error(name, known) -> UnknownEntryError``, the unknown-name error (a subclass
        for a kind that has its own, e.g. :class:`~entangled.errors.UnknownFamilyError`).
    """

    def __init__(self, kind: str, *, group: str, parameter: str,
                 from_plugin: Callable[[str, Any], T | None] | None = None,
                 identity: Callable[[T], Any] | None = None, sort: bool = False,
                 lazy: bool = False,
                 error: Callable[[Any, list[str]], UnknownEntryError] | None = None):
        if group in _REGISTRIES:
            raise EntangledError(f"a registry for entry-point group {group!r} exists already "
                                 f"({_REGISTRIES[group].kind})")
        self.kind: str = kind
        self.group: str = group
        self.parameter: str = parameter
        self._from_plugin = from_plugin or (lambda name, loaded: loaded)
        self._identity = identity or (lambda entry: entry)
        self.sort, self.lazy = sort, lazy
        self._error = error or (lambda name, known: UnknownEntryError(
            parameter, name, known, kind=kind))
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._plugins_loaded = False
        self._entry_points: list[metadata.EntryPoint] | None = None  # None: the installed ones
        self.home = sys._getframe(1).f_globals.get("__name__", "")
        _REGISTRIES[group] = self

    # ------------------------------------------------------------------ registering
    def register(self, name: str, entry: T, *, origin: str | None = None) -> T:
        """Register ``entry`` under ``name`` and return it.

        Registering the same entry again (same :attr:`identity`) is a no-op; another entry
        under a taken name is an error naming the module that holds the name.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidParameterError(f"{self.kind} name", name, "a non-empty identifier")
        existing = self._entries.get(name)
        if existing is not None:
            if self._identity(existing) is self._identity(entry) or existing is entry:
                return existing
            raise EntangledError(f"{self.kind} {name!r} is already registered by "
                                 f"{module_of(self._identity(existing))}")
        self._entries[name] = entry
        self._origins[name] = origin or self._origin_of(entry)
        return entry

    def _origin_of(self, entry: T) -> str:
        if _loading_plugin.get():
            return PLUGIN
        module = module_of(self._identity(entry))
        builtin = module == BUILTIN_PACKAGE or module.startswith(BUILTIN_PACKAGE + ".")
        return BUILTIN if builtin else RUNTIME

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Every registered name (plug-ins loaded first): sorted, or built-ins first."""
        self.load_plugins()
        return sorted(self._entries) if self.sort else list(self._entries)

    def get(self, name: Any) -> T:
        """The entry called ``name``; an :class:`UnknownEntryError` listing them otherwise."""
        self.load_plugins()
        if not isinstance(name, str) or name not in self._entries:
            raise self.unknown(name)
        return self._entries[name]

    def unknown(self, name: Any) -> UnknownEntryError:
        """The error for an unknown ``name`` (lists every registered name)."""
        return self._error(name, self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._entries[name]) for name in self.names()]

    def origin(self, name: str) -> str:
        """:data:`BUILTIN`, :data:`PLUGIN` or :data:`RUNTIME`."""
        self.get(name)
        return self._origins[name]

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._entries

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"<Registry of {self.kind} entries ({self.group}): {', '.join(self._entries)}>"

    # ------------------------------------------------------------------ plug-ins
    def entry_points(self) -> list[metadata.EntryPoint]:
        """The entry points of :attr:`group` (stable order: by name)."""
        if self._entry_points is not None:
            return list(self._entry_points)
        return sorted(metadata.entry_points(group=self.group), key=lambda e: e.name)

    def load_plugins(self) -> None:
        """Load every entry point of the group, once (a failing one warns and is skipped)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry_point in self.entry_points():
            if self.lazy:
                if entry_point.name not in self._entries:
                    self.register(entry_point.name, cast(Any, entry_point), origin=PLUGIN)
                continue
            token = _loading_plugin.set(True)
            try:
                entry = self._from_plugin(entry_point.name, entry_point.load())
                if entry is not None:
                    self.register(entry_point.name, entry, origin=PLUGIN)
            except Exception as exc:  # a broken plug-in must not break the library
                warnings.warn(f"could not load {self.kind} plugin {entry_point.name!r} "
                              f"({entry_point.value}): {exc}", RuntimeWarning, stacklevel=3)
            finally:
                _loading_plugin.reset(token)

    # ------------------------------------------------------------------ tests, workers
    @contextlib.contextmanager
    def scoped(self, *, entry_points: Iterable[metadata.EntryPoint] | None = None
               ) -> Iterator["Registry[T]"]:
        """Undo, at the end of the block, every registration made inside it.

        With ``entry_points``, the registry reads these instead of the installed ones inside
        the block (and loads them afresh), e.g. to test how a plug-in is loaded.
        """
        saved = (dict(self._entries), dict(self._origins), self._plugins_loaded,
                 self._entry_points)
        if entry_points is not None:
            self._entry_points = list(entry_points)
            self._plugins_loaded = False
        try:
            yield self
        finally:
            self._entries, self._origins, self._plugins_loaded, self._entry_points = saved

    @contextlib.contextmanager
    def temporarily(self, name: str, entry: T) -> Iterator[T]:
        """Register ``entry`` under ``name`` for the duration of the block."""
        with self.scoped():
            yield self.register(name, entry)

    def runtime_entries(self) -> list[tuple[str, T]]:
        """The entries registered at run time (not built-in, not from an entry point)."""
        return [(name, entry) for name, entry in self._entries.items()
                if self._origins[name] == RUNTIME]

    def __reduce__(self):
        return registry_for_group, (self.group, self.home)


def module_of(obj: Any) -> str:
    """The module that defines ``obj`` (its class's module for an instance; a module's name)."""
    if isinstance(obj, ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = getattr(type(obj), "__module__", None)
    return module or "?"


def registry_for_group(group: str, home: str = "") -> Registry:
    """The registry of entry-point ``group`` (importing ``home``, the module that creates it,
    when it does not exist yet: how a pickled registration finds its registry in a worker)."""
    if group not in _REGISTRIES and home:
        import_module(home)
    try:
        return _REGISTRIES[group]
    except KeyError:
        raise InvalidParameterError("group", group,
                                    "one of " + ", ".join(sorted(_REGISTRIES))) from None


def registries() -> list[Registry]:
    """Every registry created so far (the modules that create them have been imported)."""
    return list(_REGISTRIES.values())


# ---------------------------------------------------------------------------- workers
def portable_registrations(dumps: Callable[[Any], bytes] = pickle.dumps) -> bytes:
    """Every run-time registration of every registry, pickled for worker processes.

    Raises :class:`~entangled.errors.EntangledError` naming the entry when one cannot reach a
    worker. :func:`pickle.dumps` (the default, for local worker processes, which import the
    script's file as their ``__main__``) refers to classes and functions by module and name, so
    an entry must be defined at the top level of an importable module or of a script file (not
    inside a function, not a lambda, not typed at ``python -c`` or an interactive prompt);
    ``dumps=cloudpickle.dumps`` (Dask) sends what ``__main__`` defines by value.
    """
    by_reference = dumps is pickle.dumps
    main_has_file = getattr(sys.modules.get("__main__"), "__file__", None) is not None
    items = []
    for registry in registries():
        for name, entry in registry.runtime_entries():
            where = module_of(registry._identity(entry))
            try:
                if by_reference and where == "__main__" and not main_has_file:
                    raise pickle.PicklingError("it is defined in a __main__ without a file "
                                               "(python -c, an interactive session)")
                dumps((registry, name, entry))
            except Exception as exc:
                raise EntangledError(
                    f"{registry.kind} {name!r} was registered at run time (module {where}) and "
                    f"cannot be sent to worker processes: {exc}. Define it at the top level "
                    f"of a module or of the script, or install it as a plug-in (entry-point "
                    f"group {registry.group!r}), or run with one job") from None
            items.append((registry, name, entry))
    return dumps(items)


def restore_registrations(data: bytes | None) -> None:
    """(In a worker) register what :func:`portable_registrations` packed in the parent; names
    the worker has already (it imported the same module) are kept."""
    if not data:
        return
    for registry, name, entry in pickle.loads(data):
        if name not in registry:
            registry.register(name, entry, origin=RUNTIME)
