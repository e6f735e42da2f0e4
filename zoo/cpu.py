"""What this CPU can do, read at run time from its flags, never assumed: the precision choices (zoo/precision.py,
zoo/onnx_run.py) depend on it, and the zoo runs on AMX Xeons and AVX2-only laptops alike."""
from __future__ import annotations

import functools
from pathlib import Path

import torch

# the CPU features that decide anything here, by their Linux /proc/cpuinfo names
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni", "amx_int8")
_TORCH_CHECKS = {"avx2": "_is_avx2_supported", "avx512f": "_is_avx512_supported",  # torch.cpu's, where not Linux
                 "avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported",
                 "avx512_vnni": "_is_vnni_supported"}


@functools.cache
def flags() -> tuple[str, ...]:
    """Which of FLAGS this CPU has: from /proc/cpuinfo on Linux, else from torch.cpu's (private) checks."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return tuple(f for f in FLAGS if f in have)
    except OSError:
        pass
    return tuple(f for f, check in _TORCH_CHECKS.items() if getattr(torch.cpu, check, lambda: False)())


def native_bf16() -> bool:
    """bf16 multiplied in hardware: AMX tiles (Sapphire Rapids on) or AVX512-BF16 (Cooper Lake, Zen 4)."""
    return bool({"amx_bf16", "avx512_bf16"} & set(flags()))


def has_vnni() -> bool:
    """An int8 dot product that cannot saturate (VNNI, in its AVX-512 or AVX form)."""
    return bool({"avx512_vnni", "avx_vnni"} & set(flags()))


def describe() -> str:
    """One line for benchmarks and warnings: torch's kernel level and the flags above."""
    return f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}; flags: {', '.join(flags()) or 'none of ' + ', '.join(FLAGS)}"
