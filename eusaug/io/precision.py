"""Which arithmetic the learned parts run in: bfloat16 only where the hardware has it.

Mixed bfloat16 halves the work of a training step on CPUs with native bfloat16 (AVX-512 BF16,
AMX) and on recent GPUs. Everywhere else TensorFlow emulates it, and the emulation is slower
than plain float32, not faster: on an AMD EPYC without AVX-512 (Zen 3: AVX2 only, the kind
of CPU most laptops and many servers have) the `fast` CycleGAN step took 14.6 s in bfloat16
against 2.0 s in float32, and the generator translated 1.7x slower
(`benchmarks/bench_cyclegan.py`, 2026-12-07). ``auto`` therefore picks per machine.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

#: Linux CPU flags of native bfloat16 arithmetic: AVX-512 BF16 (AMD Zen 4, Intel Cooper Lake on) and AMX.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
#: GPUs compute bfloat16 natively from this CUDA compute capability on (Ampere).
BF16_GPU_CAPABILITY = (8, 0)
#: The precisions a translator's ``precision`` option takes.
PRECISION_CHOICES = ("auto", "fp32", "bf16")


@functools.cache
def cpuinfo_field(key: str) -> str | None:
    """The first ``key`` line of Linux's ``/proc/cpuinfo`` (e.g. ``model name``); None where it is not readable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them; empty where ``/proc/cpuinfo`` is not readable."""
    return frozenset((cpuinfo_field("flags") or "").split())


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU (or one with ``flags``) computes bfloat16 natively."""
    return bool(BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))


def cpu_kind(flags: frozenset[str] | None = None) -> str:
    """What matters about the CPU for every timing: AMX, AVX-512 BF16, AVX-512 or AVX2 only."""
    flags = cpu_flags() if flags is None else flags
    if "amx_bf16" in flags:
        return "AMX"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16, no AMX"
    if "avx512f" in flags:
        return "AVX-512, no BF16"
    if "avx2" in flags:
        return "AVX2, no AVX-512"
    return "no AVX2" if flags else "unknown"


def _gpu_capabilities() -> tuple[tuple[int, int], ...]:
    """Compute capabilities of the GPUs TensorFlow sees; () without GPUs or before TensorFlow is loaded
    (a model is built only after it is, so a listing that never imports it does not pay for it)."""
    if "tensorflow" not in sys.modules:
        return ()
    return _loaded_gpu_capabilities()


@functools.lru_cache(maxsize=1)
def _loaded_gpu_capabilities() -> tuple[tuple[int, int], ...]:
    tf = sys.modules["tensorflow"]
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)
        found.append(tuple(capability))
    return tuple(found)


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bf16`` where the hardware computes bfloat16 natively, else ``fp32``.

    Native means: every GPU TensorFlow sees is Ampere or newer, or, without a GPU, the CPU
    has AVX-512 BF16 or AMX. ``fp32`` and ``bf16`` are returned as given: an explicit choice
    is kept even where it is slow.
    """
    if precision != "auto":
        return precision
    gpus = _gpu_capabilities()
    if gpus:
        return "bf16" if all(capability >= BF16_GPU_CAPABILITY for capability in gpus) else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"
