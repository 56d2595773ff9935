"""minihc — a miniature hyper-connection package, written the way published ones are.

A test fixture of ``entangled probe`` (``tests/test_probe_call.py``): its modules use the
idioms that flags alone could not reach before — a package config object in constructors,
``forward(x, history)``, tuple returns, a module-level Sinkhorn — and a few bugs of the kinds
found in real packages. Import it with ``tests/probe_packages`` on ``sys.path``
(``PYTHONPATH=tests/probe_packages entangled probe minihc.layers:NAME ...``).
"""

from minihc.config import HCConfig
from minihc.layers import (
    CachedSkipBlock,
    HistoryMix,
    PostActivationBlock,
    PublishedSinkhornMixer,
    ScalarGatedBlock,
    SinkhornMixer,
    TransposedSinkhornMixer,
    TupleBlock,
)

__all__ = ["CachedSkipBlock", "HCConfig", "HistoryMix", "PostActivationBlock",
           "PublishedSinkhornMixer", "ScalarGatedBlock", "SinkhornMixer",
           "TransposedSinkhornMixer", "TupleBlock"]
__version__ = "0.3.1"
