"""A key that says whether cached results computed from some tensors still hold."""
from __future__ import annotations


def tensor_key(tensors) -> tuple | None:
    """Changes when any of tensors is replaced (another storage: load_state_dict with assign, .to()) or
    changed in place through autograd's version counter (an optimizer step, load_state_dict's copy, any
    in-place op on the tensor itself; not a write through .data, which bypasses the counter). None where
    one is an inference tensor, which keeps no version: then nothing may be cached."""
    if any(t.is_inference() for t in tensors):
        return None
    return tuple((t.data_ptr(), t._version, t.shape, t.dtype) for t in tensors)
