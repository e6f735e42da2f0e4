"""Data-parallel training with torchrun, the existing launcher: nothing of our own starts processes.

    torchrun --nproc_per_node=2 train/ner.py --recipe ner-bilstm --data ../shared/datasets/conll2003
    torchrun --nnodes=2 --node_rank=R --rdzv-endpoint=HOST:29500 --nproc_per_node=N train/ner.py ...

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; a plain `python train/...` sets none and is one process.
Each rank takes every WORLD_SIZE-th batch of the epoch's (seeded, length-bucketed) batch list, so the
shares are disjoint and the same on every rank and on a resume; DistributedDataParallel averages the
gradients. Rank 0 alone validates, logs, saves states and the checkpoint, and pushes; it broadcasts each
validation score, so every rank takes the same decisions (learning rate, best epoch, stopping).
"""
from __future__ import annotations

import datetime
import os

import torch
from torch import nn

BACKENDS = {"cuda": "nccl", "cpu": "gloo"}


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) for a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    return world()[0] == 0


def active() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def setup(device: torch.device) -> torch.device:
    """Join the process group when torchrun started this process (nccl on CUDA, gloo on the CPU); -> the
    device this rank uses (on CUDA its own GPU, cuda:LOCAL_RANK)."""
    rank, size, local = world()
    if size == 1 or active():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    torch.distributed.init_process_group(BACKENDS.get(device.type, "gloo"), rank=rank, world_size=size,
                                         timeout=datetime.timedelta(minutes=30))
    return device


def barrier() -> None:
    if active():
        torch.distributed.barrier()


def share(batches: list, rank: int, size: int) -> list:
    """This rank's batches of an epoch: every size-th one from rank on, the same count on every rank (a
    rank that ran out while the others stepped would leave them waiting in the gradient all-reduce)."""
    usable = len(batches) // size * size
    return batches[rank:usable:size]


def broadcast(value):
    """Rank 0's value (any picklable object made by our own code, e.g. validation metrics) on every rank."""
    if not active():
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


class _Loss(nn.Module):
    """DistributedDataParallel wraps a module's forward; a task model's training entry point is .loss."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.loss(batch)


def wrap(model: nn.Module, device: torch.device):
    """-> a callable batch -> loss whose backward averages gradients over the ranks (the model itself where
    there is one process)."""
    if not active():
        return model.loss
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(_Loss(model), device_ids=ids)
