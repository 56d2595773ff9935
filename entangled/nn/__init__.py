"""Torch modules with entangled skips."""

from entangled.nn.skip import EntangledSkip

__all__ = ["EntangledSkip"]
