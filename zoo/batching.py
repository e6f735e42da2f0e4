"""Batching by length: sentences of similar length share a batch, so little time goes into padding."""
from __future__ import annotations

import random

import torch


def length_batches(lengths: list[int], batch_size: int, shuffle: bool = False, seed: int = 0,
                   pool: int = 50) -> list[list[int]]:
    """Index batches. Shuffled: shuffle, sort each pool of `pool` batches by length, shuffle the batches
    (random order, little padding). Not shuffled: longest first, deterministic."""
    idx = list(range(len(lengths)))
    if not shuffle:
        idx.sort(key=lambda i: -lengths[i])
        return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(idx)
    batches = []
    step = batch_size * pool
    for p in range(0, len(idx), step):
        chunk = sorted(idx[p:p + step], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def pad(seqs: list[list[int]], value: int = 0) -> torch.Tensor:
    """List of id lists -> (B, T) long tensor padded with value."""
    T = max(max((len(s) for s in seqs), default=0), 1)
    if not seqs:
        return torch.full((0, T), value, dtype=torch.long)
    # one tensor from padded Python rows: a tensor per row costs several times more on short sentences
    return torch.tensor([list(s) + [value] * (T - len(s)) for s in seqs], dtype=torch.long)


def live_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B,) lengths -> (B, T) bool: True at each sequence's words, False at its padding."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]
