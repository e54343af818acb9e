"""Data loaders for training and evaluation that repeat exactly: the same seed gives the same batches and the same
augmentations, whatever the number of workers, and a run resumed in the middle of an epoch sees what it would have.

* the order of an epoch comes from ``DistributedSampler(seed, epoch)`` (one replica when not distributed);
* each sample's augmentation draws come from its own generator seeded by ``(seed, epoch, index)``
  (:class:`EpochSeededDataset`), not from a worker's running state;
* batches are grouped by aspect ratio and listed up front, so a resumed epoch just skips the ones already done.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from dataset import GroupedBatchSampler, aspect_ratio_groups, collate_fn
from dataset.wrapped import WrappedDataset

from . import distributed


class EpochSeededDataset(WrappedDataset):
    """Wraps a dataset so that item ``i`` of epoch ``e`` is transformed with torch's generator seeded from
    ``(seed, e, i)``; the caller's generator state is restored afterwards (the model draws from it too)."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        super().__init__(dataset)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int):
        sample_seed = ((self.seed * 1_000_003 + self.epoch) * 1_000_000_007 + index) % (2 ** 63)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            return self.dataset[index]


class BatchList(Sampler[list[int]]):
    """A fixed list of batches (a batch sampler whose epoch was planned in advance)."""

    def __init__(self, batches: Sequence[list[int]]) -> None:
        self.batches = list(batches)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def plan_epoch(dataset: EpochSeededDataset, batch_size: int, epoch: int, seed: int,
               group_factor: int = 3) -> list[list[int]]:
    """This rank's batches for ``epoch``: shuffled, grouped by aspect ratio, the same count on every rank."""
    sampler = DistributedSampler(dataset, num_replicas=distributed.world_size(), rank=distributed.rank(),
                                 shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    if group_factor >= 0 and hasattr(dataset, "aspect_ratio"):
        groups = aspect_ratio_groups([dataset.aspect_ratio(i) for i in range(len(dataset))], group_factor)
    else:
        groups = [0] * len(dataset)
    batches = list(GroupedBatchSampler(sampler, groups, batch_size))
    # Grouping can leave ranks with different batch counts; every rank must step together under DDP.
    counts = distributed.all_gather_objects(len(batches))
    return batches[:min(counts)]


def train_loader(dataset: EpochSeededDataset, batches: Sequence[list[int]], epoch: int, workers: int,
                 skip: int = 0) -> DataLoader:
    """Loader over ``batches[skip:]`` of ``epoch``."""
    dataset.set_epoch(epoch)
    return DataLoader(dataset, batch_sampler=BatchList(batches[skip:]), num_workers=workers, collate_fn=collate_fn,
                      pin_memory=torch.cuda.is_available(), persistent_workers=False,
                      generator=torch.Generator().manual_seed(epoch))


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...``: each evaluation image on exactly one rank, none repeated."""

    def __init__(self, length: int) -> None:
        self.indices = list(range(distributed.rank(), length, distributed.world_size()))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def eval_loader(dataset: Dataset, batch_size: int, workers: int) -> DataLoader:
    # its own generator: creating the loader must not draw from torch's global one (resumed runs must repeat)
    return DataLoader(dataset, batch_size=batch_size, sampler=ShardSampler(len(dataset)), num_workers=workers,
                      collate_fn=collate_fn, pin_memory=torch.cuda.is_available(),
                      generator=torch.Generator().manual_seed(0))


def iterations_per_epoch(num_images: int, batch_size: int) -> int:
    """Nominal steps per epoch (for schedules): images per rank over the batch size."""
    return max(1, math.ceil(math.ceil(num_images / distributed.world_size()) / batch_size))
