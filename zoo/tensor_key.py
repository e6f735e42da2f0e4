"""When results computed from a module's weights (projected tables, transposed or bf16 copies) may be kept."""
from __future__ import annotations

from torch import nn


def tensor_key(tensors) -> tuple | None:
    """Changes when any of tensors is replaced (another storage: load_state_dict with assign, .to()) or
    changed in place through autograd's version counter (an unfused optimizer step, load_state_dict's copy,
    any in-place op on the tensor itself; not a write through .data, which bypasses the counter, nor torch's
    fused optimizers, whose steps leave it as it was: KeepsWeightResults covers those). None where one is
    an inference tensor, which keeps no version: then nothing may be cached."""
    if any(t.is_inference() for t in tensors):
        return None
    return tuple((t.data_ptr(), t._version, t.shape, t.dtype) for t in tensors)


class KeepsWeightResults(nn.Module):
    """A module that keeps results computed from its weights in the attributes named by WEIGHT_RESULTS, under
    a tensor_key. Every train()/eval() call drops them: a fused optimizer step (Adam(fused=True), as
    zoo.training uses) changes weights without changing their key, and a training loop switches modes
    between its steps and its validation."""

    WEIGHT_RESULTS: tuple[str, ...] = ()

    def train(self, mode: bool = True):
        for name in self.WEIGHT_RESULTS:
            self.__dict__.pop(name, None)
        return super().train(mode)
