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
    a tensor_key. They are dropped on every train()/eval() call, .to()/.half() and the like, a state-dict
    load, and (drop_weight_results) every step of the zoo's optimizer: torch's fused optimizer steps change
    weights without changing their key, and a replaced tensor could reuse a freed one's address."""

    WEIGHT_RESULTS: tuple[str, ...] = ()

    def drop_weight_results(self) -> None:
        for name in self.WEIGHT_RESULTS:
            self.__dict__.pop(name, None)

    def train(self, mode: bool = True):
        self.drop_weight_results()
        return super().train(mode)

    def _apply(self, *args, **kwargs):
        self.drop_weight_results()
        return super()._apply(*args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):
        self.drop_weight_results()
        return super()._load_from_state_dict(*args, **kwargs)


def drop_weight_results(model: nn.Module) -> None:
    """What every KeepsWeightResults module of model keeps, dropped (after an optimizer step)."""
    for m in model.modules():
        if isinstance(m, KeepsWeightResults):
            m.drop_weight_results()
