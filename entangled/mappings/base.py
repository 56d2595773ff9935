"""The :class:`Mapping` base class: a fixed n x n skip matrix with verified structure.

A family subclasses :class:`Mapping`, declares its :class:`~entangled.mappings.params.Param`
specifications and implements

* ``_build_matrix()``: the dense float64 matrix ``M`` (the ground truth every structured
  method is tested against);
* optionally ``_operands()`` and ``_apply_operands(operands, x, dim)``: the structure-aware
  product ``y_i = sum_j M_ij x_j`` along axis ``dim`` of ``x`` (non-negative), computed from a
  few small tensors (an index vector for a permutation, a spectrum for a circulant, ...)
  without moving the axis, so the result keeps the memory layout of ``x``. The default is
  the dense product with ``M``;
* optionally ``_exact_eigvals()`` / ``_exact_singular_values()``: closed forms from structure;
* ``contains(matrix, tol, **params)``: whether a matrix belongs to the family (the membership
  half of the ``sample``/``contains`` pair that lets one generic test cover every family), and
  ``member_set_is_open(params)`` when every small perturbation of a member is still a member;
* ``structure`` (and ``structure_when``): what the family's matrices are, in the vocabulary of
  :mod:`entangled.mappings.structure` (orthogonal, doubly stochastic, ...), verified by a
  generic test on sampled members and read by the conjecture engine to choose the families a
  conjecture applies to; ``max_nonzeros()`` with the term ``sparse``.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch

from entangled.errors import EntangledError, InvalidParameterError, UnknownFamilyError
from entangled.mappings.params import (  # noqa: F401 (as_float64_matrix: also imported from here)
    Param, as_float64_matrix, check_dense_fits, check_seed, check_size, is_integer)
from entangled.mappings.structure import Structure, When, check_declaration, of_member
from entangled.registry import Registry

DICT_FIELDS = ("family", "n", "seed", "params")
KERNELS = ("auto", "structured", "dense")
HALF_DTYPES = (torch.float16, torch.bfloat16)


class Mapping:
    """A fixed skip mapping ``M`` of size ``n x n`` from a named family.

    Attributes
    ----------
    family : str
        Registered family name.
    n : int
        Size of the mapping.
    seed : int
        Seed of the family's random construction (ignored by deterministic families).
    params : dict
        Validated, JSON-serialisable family parameters (defaults filled in).
    """

    family: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    seeded: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    #: Device type -> size n below which ``apply(method="auto")`` uses the dense product
    #: (one BLAS call beats the structured kernel's launch overhead there); measured by
    #: ``benchmarks/bench_mappings.py --crossover``. Missing device: always structured.
    dense_below: ClassVar[dict[str, int]] = {}
    #: The structured kernel lacks float16/bfloat16 (FFT on CPU, sparse CSR): half-precision
    #: inputs are computed in float32 and the result cast back.
    half_in_float32: ClassVar[bool] = False
    #: Operands recomputed from the others (not saved by ``EntangledSkip.state_dict``).
    derived_operands: ClassVar[frozenset[str]] = frozenset()
    #: What every member is (terms of :class:`~entangled.mappings.structure.Structure`; the
    #: implied terms follow): verified on sampled members, read by ``@conjecture(requires=...)``.
    structure: ClassVar[frozenset[Structure]] = frozenset()
    #: Structure of the members whose parameters lie in narrowed ranges.
    structure_when: ClassVar[tuple[When, ...]] = ()

    def __init__(self, n: int, *, seed: int = 0, **params: Any):
        context = self.family or type(self).__name__
        self.n = check_size(n, context=context)
        self.seed = check_seed(seed, context=context)
        known = {p.name: p for p in self.parameters}
        for name in params:
            if name not in known:
                allowed = ", ".join(known) if known else "none (this family has no parameters)"
                raise InvalidParameterError(
                    "parameter", name, f"parameters of family {self.family!r}: {allowed}",
                    context=context,
                )
        self.params = {
            p.name: p.check(params.get(p.name, p.default), context=context)
            for p in self.parameters
        }
        self._validate()
        self._matrix_cache: torch.Tensor | None = None
        self._operand_cache: dict[tuple, dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------------ hooks
    def _validate(self) -> None:
        """Cross-parameter checks (override); raise InvalidParameterError."""

    def _build_matrix(self) -> torch.Tensor:
        raise NotImplementedError

    def _operands(self) -> dict[str, torch.Tensor]:
        """Tensors that define the structure-aware product (default: the dense matrix)."""
        return {"matrix": self.dense()}

    @staticmethod
    def _apply_operands(operands: dict[str, torch.Tensor], x: torch.Tensor, dim: int) -> torch.Tensor:
        """``y_i = sum_j M_ij x_j`` along ``dim`` by a dense product (the default)."""
        return dense_product(operands["matrix"], x, dim)

    def _exact_eigvals(self) -> torch.Tensor | None:
        return None

    def _exact_singular_values(self) -> torch.Tensor | None:
        return None

    @classmethod
    def contains(cls, matrix: Any, /, tol: float = 1e-9, **params: Any) -> bool:
        """Whether ``matrix`` is a member of this family (entrywise up to ``tol``).

        Without ``params`` the question is about the whole family (some parameter values and
        some seed); with ``params`` it is about the members with exactly those values (the
        parameters not given take their defaults; the seed stays free). Raises
        :class:`~entangled.errors.InvalidMatrixError` for a non-square or non-finite matrix and
        :class:`~entangled.errors.InvalidParameterError` for unknown or invalid parameters.
        """
        raise NotImplementedError

    @classmethod
    def member_set_is_open(cls, params: dict) -> bool:
        """Whether, with these parameters (empty: the whole family), every small perturbation
        of a member is still a member (e.g. an unconstrained dense matrix): then
        :meth:`contains` has no perturbation to reject."""
        return False

    @classmethod
    def pinned_params(cls, params: dict, n: int) -> dict | None:
        """``None`` when ``params`` is empty, else every parameter validated, defaults filled in
        (the parameter values that :meth:`contains` asks about)."""
        if not params:
            return None
        return cls(n, **params).params

    def uses_seed(self) -> bool:
        """Whether the matrix depends on ``seed`` for these parameters."""
        return type(self).seeded

    def declared_structure(self) -> frozenset[Structure]:
        """What this member is by its family's declaration: :attr:`structure`, the
        :attr:`structure_when` terms its parameters satisfy, and everything they imply."""
        return of_member(type(self), self.params)

    def max_nonzeros(self) -> int | None:
        """The most nonzero entries this member can have (the density bound behind the term
        ``sparse``), or ``None`` when the family declares none."""
        return None

    # ------------------------------------------------------------- public API
    def dense(self) -> torch.Tensor:
        """The cached float64 matrix (do not modify; :meth:`matrix` returns a copy)."""
        if self._matrix_cache is None:
            check_dense_fits(self.n, what="matrix", context=self.family)
            built = self._build_matrix().to(dtype=torch.float64, device="cpu")
            if built.shape != (self.n, self.n):
                raise RuntimeError(f"{self.family}: built matrix has shape {tuple(built.shape)}")
            self._matrix_cache = built
        return self._matrix_cache

    def matrix(self) -> torch.Tensor:
        """The mapping as a dense ``(n, n)`` float64 tensor ``M`` (a fresh copy)."""
        return self.dense().clone()

    def operands(self, dtype: torch.dtype = torch.float64, device: Any = "cpu") -> dict:
        """The structure tensors used by :meth:`apply`, floating ones cast to ``dtype``."""
        key = (dtype, torch.device(device))
        if key not in self._operand_cache:
            self._operand_cache[key] = {
                name: (t.to(device=device, dtype=dtype) if t.is_floating_point() or t.is_complex()
                       else t.to(device=device))
                for name, t in self._operands().items()
            }
        return self._operand_cache[key]

    @classmethod
    def apply_with(cls, operands: dict[str, torch.Tensor], x: torch.Tensor, dim: int = -1):
        """Apply the structured product defined by ``operands`` along ``dim`` of ``x`` (no
        checks); half-precision inputs of a kernel without half support run in float32."""
        dim = dim % x.ndim
        if cls.half_in_float32 and x.dtype in HALF_DTYPES:
            wide = {name: (t.float() if t.is_floating_point() else t) for name, t in operands.items()}
            with torch.autocast(x.device.type, enabled=False):
                return cls._apply_operands(wide, x.float(), dim).to(x.dtype)
        return cls._apply_operands(operands, x, dim)

    @classmethod
    def choose_kernel(cls, n: int, device_type: str, method: str = "auto") -> str:
        """``"dense"`` or ``"structured"``: ``method`` itself unless it is ``"auto"``, then the
        dense product below the family's measured crossover :attr:`dense_below` for
        ``device_type`` (like ``scipy.signal.convolve(method="auto")``)."""
        if method != "auto":
            return method
        return "dense" if n < cls.dense_below.get(device_type, 0) else "structured"

    def dense_operand(self, dtype: torch.dtype = torch.float64, device: Any = "cpu") -> torch.Tensor:
        """The dense matrix cast to ``dtype`` on ``device`` (cached like :meth:`operands`)."""
        key = ("dense", dtype, torch.device(device))
        if key not in self._operand_cache:
            self._operand_cache[key] = {"matrix": self.dense().to(device=device, dtype=dtype)}
        return self._operand_cache[key]["matrix"]

    def apply(self, x: torch.Tensor, dim: int = -1, *, method: str = "auto") -> torch.Tensor:
        """Return ``x`` with ``M`` applied along ``dim``: ``y_i = sum_j M_ij x_j``.

        ``method="structured"`` uses the structure (gather, sparse, FFT, 2x2 blocks, ... as
        the family allows), ``"dense"`` one matrix product with ``M``, and ``"auto"`` (default)
        the dense product below the family's measured crossover size for the device of ``x``
        (:attr:`dense_below`) and the structured kernel above. Every kernel gives the same
        result within float tolerance; differentiable; the result has the dtype and device of
        ``x`` (float16/bfloat16 run in float32 where a kernel lacks them).
        """
        dim = check_apply_input(x, dim, self.n, context=self.family)
        kernel = self.choose_kernel(self.n, x.device.type, check_kernel(method, self.family))
        if kernel == "dense":
            return dense_product(self.dense_operand(x.dtype, x.device), x, dim)
        return self.apply_with(self.operands(x.dtype, x.device), x, dim)

    def eigvals(self) -> torch.Tensor:
        """Eigenvalues as a complex128 tensor of shape ``(n,)``.

        Exact from structure where the family gives a closed form, else
        ``torch.linalg.eigvals`` of :meth:`matrix`.
        """
        exact = self._exact_eigvals()
        if exact is not None:
            return exact.to(torch.complex128)
        return torch.linalg.eigvals(self.dense())

    def singular_values(self) -> torch.Tensor:
        """Singular values, float64, descending."""
        exact = self._exact_singular_values()
        if exact is not None:
            return torch.sort(exact.to(torch.float64), descending=True).values
        return torch.linalg.svdvals(self.dense())

    def graph(self):
        """Support graph: ``networkx.DiGraph`` on nodes 0..n-1, edge ``j -> i`` with
        ``weight = M[i, j]`` for every nonzero entry (diagonal entries are self-loops)."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(range(self.n))
        dense = self.dense()
        rows, cols = torch.nonzero(dense, as_tuple=True)
        weights = dense[rows, cols]
        graph.add_weighted_edges_from(
            zip(cols.tolist(), rows.tolist(), weights.tolist())
        )
        return graph

    def to_dict(self) -> dict:
        """Plain JSON-serialisable description; :meth:`from_dict` rebuilds the same matrix."""
        return {
            "family": self.family,
            "n": self.n,
            "seed": self.seed,
            "params": copy.deepcopy(self.params),
        }

    @staticmethod
    def from_dict(data: dict) -> "Mapping":
        """Rebuild a mapping from :meth:`to_dict` output (fields family, n, seed, params)."""
        if not isinstance(data, dict):
            raise EntangledError(
                f"invalid data={type(data).__name__}; allowed: a dict with fields "
                + ", ".join(DICT_FIELDS)
            )
        for name in data:
            if name not in DICT_FIELDS:
                raise EntangledError(
                    f"invalid field {name!r} in mapping dict; allowed fields: "
                    + ", ".join(DICT_FIELDS)
                )
        for name in DICT_FIELDS:
            if name not in data:
                raise EntangledError(
                    f"missing field {name!r} in mapping dict; required fields: "
                    + ", ".join(DICT_FIELDS)
                )
        if not isinstance(data["params"], dict):
            raise InvalidParameterError("params", data["params"], "a dict of family parameters")
        return FAMILY_REGISTRY.get(data["family"])(data["n"], seed=data["seed"], **data["params"])

    def short_params(self) -> str:
        """Parameters as ``key=value`` text for tables (long values abbreviated)."""
        parts = []
        for key, value in self.params.items():
            text = repr(value) if not isinstance(value, float) else f"{value:g}"
            if len(text) > 24:
                text = text[:21] + "..."
            parts.append(f"{key}={text}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        extra = f", seed={self.seed}" if self.uses_seed() else ""
        params = self.short_params()
        return f"Mapping({self.family!r}, n={self.n}{extra}{', ' + params if params else ''})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.family, self.n, self.seed, repr(sorted(self.params.items()))))


def along(vector: torch.Tensor, ndim: int, dim: int) -> torch.Tensor:
    """View a length-n vector so that it broadcasts along axis ``dim`` of an ``ndim``-D tensor."""
    return vector.view(-1, *([1] * (ndim - 1 - dim)))


def dense_product(matrix: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """``y_i = sum_j M_ij x_j`` along ``dim`` as one matrix product, keeping the layout of ``x``."""
    if dim == x.ndim - 1:
        return torch.nn.functional.linear(x, matrix)
    shape = x.shape
    return torch.matmul(matrix, x.reshape(*shape[: dim + 1], -1)).reshape(shape)


def gathered_sum(x: torch.Tensor, index: torch.Tensor, weight: torch.Tensor, dim: int,
                 reduce_axis: int) -> torch.Tensor:
    """``sum_k weight[..k..] * x[index[..k..]]`` along ``dim``: a product with stored entries.

    ``index`` and ``weight`` have the same 2-D shape ``(a, b)``; ``x`` is gathered along ``dim``
    at ``index.flatten()``, reshaped to ``(a, b)`` there, weighted and summed over axis
    ``reduce_axis`` (0 or 1) of that pair.
    """
    a, b = index.shape
    gathered = x.index_select(dim, index.reshape(-1)).unflatten(dim, (a, b))
    weights = weight.view(a, b, *([1] * (x.ndim - 1 - dim)))
    return (gathered * weights).sum(dim + reduce_axis)


def check_kernel(method: Any, context: str) -> str:
    """Validate an ``apply`` kernel name (one of :data:`KERNELS`)."""
    if not isinstance(method, str) or method not in KERNELS:
        raise InvalidParameterError("method", method, "one of " + ", ".join(map(repr, KERNELS)),
                                    context=context)
    return method


def check_apply_input(x: Any, dim: Any, n: int, *, context: str = "apply") -> int:
    """Validate the input of :meth:`Mapping.apply`; return ``dim`` as a non-negative int."""
    if not isinstance(x, torch.Tensor):
        raise InvalidParameterError("x", type(x).__name__, "a torch.Tensor", context=context)
    if not x.is_floating_point():
        raise InvalidParameterError("x.dtype", x.dtype, "a floating-point dtype", context=context)
    if not is_integer(dim) or not -x.ndim <= int(dim) < x.ndim:
        raise InvalidParameterError(
            "dim", dim, f"an integer in [{-x.ndim}, {x.ndim - 1}] for a {x.ndim}-D input",
            context=context,
        )
    dim = int(dim) % x.ndim
    if x.shape[dim] != n:
        raise InvalidParameterError(
            f"x.shape[{dim}]", x.shape[dim], f"{n} (the size n of the mapping)", context=context
        )
    return dim


# ---------------------------------------------------------------------- the registry
def checked_family(cls: Any) -> type[Mapping]:
    """``cls`` if it can be registered as a family: a :class:`Mapping` subclass with an
    identifier as ``family`` and a structure declaration in the vocabulary."""
    name = getattr(cls, "family", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise EntangledError(f"invalid family={name!r}; allowed: a non-empty identifier")
    if not (isinstance(cls, type) and issubclass(cls, Mapping)):
        raise EntangledError(f"invalid family class {cls!r}; allowed: a Mapping subclass")
    check_declaration(cls, unbounded=Mapping.max_nonzeros)
    return cls


def _family_of_plugin(name: str, loaded: Any) -> type[Mapping] | None:
    if isinstance(loaded, type) and issubclass(loaded, Mapping):
        return checked_family(loaded)
    return None  # a module that registered its families on import


#: The registered families by name (listed sorted); :mod:`entangled.mappings.registry` holds
#: the functions that use it. Defined here so that :meth:`Mapping.from_dict` reads it without
#: importing that module (no import cycle).
FAMILY_REGISTRY: Registry[type[Mapping]] = Registry(
    "family", group="entangled.families", parameter="family", from_plugin=_family_of_plugin,
    sort=True, error=UnknownFamilyError)
