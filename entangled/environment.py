"""The environment record: what a number was computed on (software and machine).

Every run's result file (``environment``), the report page and its ``summary.json`` carry
:func:`environment`. The same configuration gives the same numbers on the same machine with
the same software (bit for bit, when trained alone); across machines the numbers may differ,
because the floating-point kernels torch and its BLAS choose depend on the CPU and its
instruction set (an AVX-512 machine takes other code paths, with other rounding, than an
AVX2-only one) and on the GPU. The record names those inputs so that a reader can tell why two
machines disagree:

* software: Python, platform, torch, numpy, scipy, entangled, torch's BLAS/LAPACK
  (``torch.__config__``) and numpy's BLAS;
* machine: the CPU model, the instruction-set extensions that matter for numerics
  (:data:`NUMERIC_FLAGS`, e.g. ``avx2 fma avx512f``), the vector instruction set torch's own
  kernels dispatch to (``torch.backends.cpu.get_cpu_capability()``: ``AVX512``, ``AVX2``,
  ``DEFAULT``, ...), the logical CPU count, and the GPU if torch sees one;
* this process: the torch thread count.

:func:`machine` is read once per process (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS,
:func:`platform.processor` elsewhere); every lookup that fails leaves its field ``None``
instead of raising.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
from typing import Any

import entangled

#: Instruction-set extensions that change which floating-point kernels run, in the order
#: shown (x86: SSE4.2 up to AVX-512 and AMX; ARM: NEON/ASIMD, SVE).
NUMERIC_FLAGS = ("sse4_2", "avx", "f16c", "fma", "avx2", "avx512f", "avx512dq", "avx512bw",
                 "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
                 "amx_bf16", "neon", "asimd", "asimddp", "sve", "sve2")


def cpu_flags_summary(flags: str | list[str]) -> str:
    """The :data:`NUMERIC_FLAGS` among ``flags`` (a ``/proc/cpuinfo`` flags line or a list),
    in :data:`NUMERIC_FLAGS` order, space-separated; ``""`` when there is none.

    >>> cpu_flags_summary("fpu sse4_2 avx2 fma avx")
    'sse4_2 avx fma avx2'
    """
    present = set(flags.lower().split() if isinstance(flags, str) else
                  (f.lower() for f in flags))
    return " ".join(f for f in NUMERIC_FLAGS if f in present)


def parse_cpuinfo(text: str) -> dict[str, str | None]:
    """CPU model and flags summary from the text of ``/proc/cpuinfo`` (x86: ``model name`` and
    ``flags``; ARM: ``Hardware``/``CPU part`` and ``Features``); missing fields are ``None``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    model = (fields.get("model name") or fields.get("Hardware") or fields.get("Model")
             or fields.get("cpu model") or (f"CPU part {fields['CPU part']}"
                                            if "CPU part" in fields else None))
    flags = fields.get("flags") or fields.get("Features")
    return {"cpu": model or None,
            "cpu_flags": cpu_flags_summary(flags) if flags is not None else None}


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _cpu() -> dict[str, str | None]:
    """CPU model and flags summary of this machine (``None`` where the OS does not say)."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                info = parse_cpuinfo(handle.read())
        except OSError:
            info = {"cpu": None, "cpu_flags": None}
        if info["cpu"] is None:
            info["cpu"] = platform.processor() or None
        return info
    if sys.platform == "darwin":
        features = " ".join(filter(None, (_sysctl("machdep.cpu.features"),
                                          _sysctl("machdep.cpu.leaf7_features"))))
        if platform.machine() == "arm64":
            features = features or "neon asimd"  # every Apple silicon core has them
        return {"cpu": _sysctl("machdep.cpu.brand_string") or platform.processor() or None,
                "cpu_flags": cpu_flags_summary(features) if features else None}
    return {"cpu": platform.processor() or None, "cpu_flags": None}


def _torch_build() -> dict[str, Any]:
    """torch's CPU dispatch level, its BLAS and LAPACK (from ``torch.__config__``) and GPU."""
    import torch

    info: dict[str, Any] = {"torch_cpu_capability": None, "torch_blas": None,
                            "torch_lapack": None, "gpu": None}
    try:
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        pass
    try:
        config = torch.__config__.show()
    except (AttributeError, RuntimeError):
        config = ""
    for key, name in (("torch_blas", "BLAS_INFO"), ("torch_lapack", "LAPACK_INFO")):
        found = re.search(rf"{name}=([^,\s]+)", config)
        info[key] = found.group(1) if found else None
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["gpu"] = ", ".join(names)
        info["cuda_version"] = torch.version.cuda
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        info["gpu"] = "Apple MPS"
    return info


def _numpy_blas() -> str | None:
    import numpy

    try:
        config = numpy.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"]
    except (TypeError, KeyError, AttributeError, ValueError):
        return None  # numpy < 1.25 prints instead of returning a dict


@functools.lru_cache(maxsize=1)
def machine() -> dict[str, Any]:
    """What does not change within a process: CPU (model, :func:`cpu_flags_summary`, logical
    CPUs), torch's CPU dispatch level, BLAS/LAPACK and GPU, and the software versions."""
    import numpy
    import scipy
    import torch

    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "machine": platform.machine(), **_cpu(), "cpus": os.cpu_count(),
        "torch": torch.__version__, **_torch_build(), "numpy": numpy.__version__,
        "numpy_blas": _numpy_blas(), "scipy": scipy.__version__,
        "entangled": getattr(entangled, "__version__", "?"),
    }


def environment() -> dict[str, Any]:
    """:func:`machine` plus this process's torch thread count (``torch_threads``); plain JSON.

    ``cuda`` is the GPU name when torch sees one (``None`` otherwise), kept under that key for
    the result files written before ``gpu`` existed.
    """
    import torch

    record = dict(machine())
    record["torch_threads"] = torch.get_num_threads()
    record["cuda"] = record["gpu"] if "cuda_version" in record else None
    return record


def machine_label(record: dict[str, Any]) -> str:
    """One line naming the machine of an environment record: CPU model, its numeric
    instruction sets, torch's dispatch level and the GPU, e.g. ``AMD EPYC 7B13 (avx avx2 fma;
    torch AVX2)``; ``"unknown machine"`` for a record without them (older result files)."""
    cpu = record.get("cpu") or record.get("processor")
    if not cpu:
        return "unknown machine"
    details = [record["cpu_flags"]] if record.get("cpu_flags") else []
    if record.get("torch_cpu_capability"):
        details.append(f"torch {record['torch_cpu_capability']}")
    label = f"{cpu} ({'; '.join(details)})" if details else str(cpu)
    gpu = record.get("gpu") or record.get("cuda")
    return f"{label} + {gpu}" if gpu else label
