"""Where a model runs and in what precision, chosen once per command and said out loud.

    --device auto|cpu|cuda|cuda:N|mps       auto: CUDA where there is one, else the CPU
    --precision auto|fp32|bf16|fp16         auto: bf16 where it pays (CUDA with bf16, a CPU with AMX), else fp32

Mixed precision is torch.autocast over float32 master weights (fp16 adds a GradScaler, since its small
range underflows gradients); checkpoints are saved from CPU tensors either way, so a GPU-trained one loads
anywhere. Whether a CPU has AMX is read from its flags at run time (zoo/cpu.py): on an AVX2-only CPU bf16 is
emulated, and with AVX512-BF16 alone it measured slower than fp32 too, so auto stays fp32 on both.
"""
from __future__ import annotations

import contextlib
import functools
import re
import threading

import torch

from . import cpu

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceUnavailable(ValueError):
    """The device or precision asked for is not there; the message says what is."""


def resolve(name: str = "auto", flag: str = "--device") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' -> a torch.device that exists here. flag: how the caller asked,
    for the message ("--device" on the command line, "device=" from Python)."""
    name = str(name).strip().lower()

    def said(value: str) -> str:
        return f"{flag}{value!r}" if flag.endswith("=") else f"{flag} {value}"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m:
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"{said(name)}: CUDA is not available here (torch {torch.__version__}, "
                                    f"{'built without CUDA' if torch.version.cuda is None else 'no GPU found'}); "
                                    f"use {said('cpu')} or {said('auto')}")
        index = int(m.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"{said(name)}: there are {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceUnavailable(f"{said('mps')}: Apple's Metal backend is not available here; use {said('cpu')}")
        return torch.device("mps")
    raise DeviceUnavailable(f"{said(name)}: choose auto, cpu, cuda, cuda:N or mps")


def choose_precision(name: str, device: torch.device) -> tuple[str, str]:
    """-> (fp32 | bf16 | fp16, why). auto takes bf16 only where it pays: on CUDA that supports it, or on a CPU
    with AMX (zoo.cpu.bf16_pays: AVX512-BF16 alone measured slower than fp32); fp32 elsewhere (and on MPS)."""
    if name not in PRECISIONS:
        raise DeviceUnavailable(f"--precision {name!r}: choose one of {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type == "cpu":  # torch's CPU kernels (oneDNN's LSTM among them) lack fp16 autocast
        # the advice follows this CPU: bf16 measured slower than fp32 where there is no AMX (cpu.bf16_pays)
        here = "this CPU has AMX, so bf16 pays here" if cpu.bf16_pays() else "bf16 only pays with AMX, which this CPU lacks"
        raise DeviceUnavailable(f"--precision fp16 is for GPUs; on the CPU use fp32 or bf16 ({here}; --precision auto "
                                "chooses)")
    if name != "auto":
        return name, "asked for"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", f"{torch.cuda.get_device_name(device)} computes bf16 natively"
        return "fp32", f"{torch.cuda.get_device_name(device)} has no native bf16"
    if device.type == "cpu":
        if cpu.bf16_pays():
            return "bf16", f"this CPU has AMX ({', '.join(f for f in cpu.flags() if 'bf16' in f)})"
        if cpu.native_bf16():
            return "fp32", "this CPU has AVX512-BF16 but no AMX: bf16 measured slower than fp32 there"
        return "fp32", "this CPU has no native bf16 (no AMX-BF16 or AVX512-BF16): emulated bf16 is slower"
    return "fp32", f"no mixed precision on {device.type}"


def autocast(device: torch.device, precision: str):
    """A context in which the forward pass runs in `precision` (fp32: no change). bf16 on a CPU where oneDNN
    builds no bf16 LSTM keeps oneDNN off inside: autocast hands an LSTM to oneDNN, which fails there ("could
    not create a primitive descriptor" on an AVX2 CPU); torch's own kernel then runs the LSTM in float32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if device.type == "cpu" and precision == "bf16" and not onednn_bf16_lstm():
        return _without_onednn(torch.autocast("cpu", dtype=torch.bfloat16))
    return torch.autocast(device.type, dtype=_DTYPES[precision])


@functools.cache
def onednn_bf16_lstm() -> bool:
    """Whether torch's oneDNN builds a bf16 LSTM on this CPU (with AMX-BF16 or AVX512-BF16, not on an AVX2 one):
    tried once, on a tiny layer, rather than assumed from the flags."""
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(2, 2)(torch.zeros(1, 1, 2))
        return True
    except RuntimeError:
        return False


_onednn_lock = threading.Lock()
_onednn_off = {"users": 0, "before": True}  # one switch for the process: the last user out restores it


@contextlib.contextmanager
def _without_onednn(inner):
    """inner with torch's oneDNN switched off; threads inside at once share one switch, restored by the last one
    out (meanwhile another thread's fp32 layers also run without oneDNN: the same numbers within rounding)."""
    with _onednn_lock:
        if _onednn_off["users"] == 0:
            _onednn_off["before"] = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False
        _onednn_off["users"] += 1
    try:
        with inner:
            yield
    finally:
        with _onednn_lock:
            _onednn_off["users"] -= 1
            if _onednn_off["users"] == 0:
                torch.backends.mkldnn.enabled = _onednn_off["before"]


def of(module: torch.nn.Module) -> torch.device:
    """Where a model is: its first parameter's device (a dynamically quantized Linear has no float weight
    tensor to ask, but the embeddings always do); the CPU for a model with none."""
    todo = [module]  # module.parameters()'s order, walked without its generators: called once per prediction
    while todo:
        m = todo.pop()
        for p in m._parameters.values():
            if p is not None:
                return p.device
        todo += [c for c in reversed(m._modules.values()) if c is not None]
    return torch.device("cpu")


def move(batch, device: torch.device):
    """A batch (tensors in dicts, lists or tuples) on device; the same object where it is already there."""
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        if all(isinstance(v, torch.Tensor) and v.device == device for v in batch.values()):
            return batch  # the common case (a CPU model, the batch collate made), without a walk or a new dict
        return {k: move(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move(v, device) for v in batch)
    return batch


def use_threads(n: int) -> None:
    """The commands' --threads: torch's CPU threads, 0 leaving torch's own choice."""
    if n:
        torch.set_num_threads(n)
