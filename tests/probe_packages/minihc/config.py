"""The package's configuration object (constructors take it, as in many model packages)."""

from dataclasses import dataclass


@dataclass
class HCConfig:
    """Hyper-connection settings: ``num_streams`` residual streams of width ``dim``."""

    dim: int = 8
    num_streams: int = 4
    sinkhorn_iters: int = 20
    tau: float = 1.0
    init_offdiag: float = -1.0      # mixing logits: 0 on the diagonal, this off it,
    init_noise: float = 0.5         # plus N(0, init_noise^2) noise (torch's global RNG)
