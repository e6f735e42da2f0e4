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


def bf16_pays() -> bool:
    """Whether bf16 is expected faster than float32 here: with AMX tiles. AVX512-BF16 alone multiplies bf16 in
    hardware too, but measured slower than float32 on a 2-core Xeon without AMX (training 0.71-0.78x in
    docs/training.md, serving 0.30-0.94x in docs/benchmarks.md), the conversions around each small multiply costing more than it saves."""
    return "amx_bf16" in flags()


def has_vnni() -> bool:
    """An int8 dot product that cannot saturate (VNNI, in its AVX-512 or AVX form)."""
    return bool({"avx512_vnni", "avx_vnni"} & set(flags()))


STEP_FORMS = ("tanh", "sigmoid")


def rnn_step_form() -> str:
    """How the vanilla RNN's steps route (zoo/encoder.py) computes h = tanh(z) on this CPU: "tanh" itself, or
    "sigmoid", carrying g = sigmoid(2z) = (h + 1) / 2. torch's tanh kernel is vectorized for AVX-512 and beats
    its sigmoid there (0.78-0.82x its time on 64 x 150, a pass of the SST-2 RNN 1.09-1.10x faster), but costs 3.2-3.4x
    its sigmoid on AVX2 (bench/rnn_steps.py prints both on any CPU); read from torch's kernel level, so one
    machine always takes one form."""
    return "tanh" if torch.backends.cpu.get_cpu_capability() == "AVX512" else "sigmoid"


def describe() -> str:
    """One line for benchmarks and warnings: torch's kernel level and the flags above."""
    return f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}; flags: {', '.join(flags()) or 'none of ' + ', '.join(FLAGS)}"
