"""Adapters that build probe-ready specs (block, input, silencing, exposed mixing) for real modules.

* :mod:`entangled.theory.adapters.entangled_skip` — the project's own :class:`~entangled.nn.EntangledSkip`
  inside a residual block (self-test: the probed map must equal the mapping exactly);
* :mod:`entangled.theory.adapters.hyper_connections` — the ``hyper-connections`` package's
  manifold-constrained hyper-connections (mHC), optional extra ``probe``;
* :mod:`entangled.theory.adapters.examples` — zero-argument factories for ``entangled probe``.

A spec is the dict a factory returns to ``entangled probe`` (see :func:`entangled.theory.probe.probe_spec`):
``block`` and ``input`` (required), ``streams``, ``dim``, ``layout``, ``silence``, ``exposed``,
``perturb``, ``source``, ``description``.
"""
