"""Multi-process training with torchrun: one process per GPU (or per CPU worker with gloo), any number of nodes.

``torchrun --nproc_per_node=N tools/train.py ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them
the same script runs as a single process. Rank 0 alone logs and writes files.
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device: str) -> torch.device:
    """Joins the process group when launched by torchrun (NCCL on CUDA, gloo on CPU); returns this rank's device."""
    if not launched_by_torchrun():
        return torch.device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", local_rank)
    dist.init_process_group("gloo")
    return torch.device(device)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def all_gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order (a list of one when not distributed)."""
    if not is_distributed():
        return [value]
    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def average_across_ranks(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mean of each scalar over the ranks (for logging: every rank then sees the same losses)."""
    if not is_distributed():
        return values
    names = sorted(values)
    stacked = torch.stack([values[n].detach().float() for n in names])
    dist.all_reduce(stacked)
    stacked /= world_size()
    return dict(zip(names, stacked))


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (to stop all ranks together)."""
    if not is_distributed():
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(tensor)
    return bool(tensor.item() > 0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()
