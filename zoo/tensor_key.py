"""When results computed from a module's weights (projected tables, transposed or bf16 copies) may be kept."""
from __future__ import annotations

from collections.abc import Callable

import torch
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


def kept(module: nn.Module, name: str, sources, make: Callable, slot=None):
    """make(), computed from the tensors sources, kept in module.<name> (a dict, one entry per slot) under
    tensor_key(sources) and made again when the key changes; made each time where there is no key. Made as
    plain tensors whatever mode the call runs in (a later call with gradients can use them), and stored
    through a local reference to the dict, which another thread's train()/eval() may drop meanwhile."""
    store = module.__dict__.setdefault(name, {})
    key, held = tensor_key(sources), store.get(slot)
    if key is None or held is None or held[0] != key:
        with torch.no_grad(), torch.inference_mode(False):
            held = store[slot] = (key, make())
    return held[1]


class KeepsWeightResults(nn.Module):
    """A module that keeps results computed from its weights (kept) in the attributes named by WEIGHT_RESULTS.
    They are dropped on every train()/eval() call, .to()/.half() and the like, a state-dict
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

    def __getstate__(self):
        """What copy.deepcopy (and pickling) copies: not the kept results, some of which carry autograd history
        back to the weights (bf16 copies, for gradients through them) and cannot be deep-copied; a copy makes
        its own."""
        return {k: v for k, v in super().__getstate__().items() if k not in self.WEIGHT_RESULTS}


def drop_weight_results(model: nn.Module) -> None:
    """What every KeepsWeightResults module of model keeps, dropped (after an optimizer step)."""
    for m in model.modules():
        if isinstance(m, KeepsWeightResults):
            m.drop_weight_results()
