"""Batches of images with similar aspect ratios, as torchvision's reference training builds them.

The model pads every batch to its largest image, so mixing a portrait and a landscape image wastes most of the padded
area. Images are binned by width / height (:func:`aspect_ratio_groups`) and a batch is drawn from one bin only, in the
order the underlying sampler gives (so shuffling and ``DistributedSampler`` still apply).

Unlike torchvision's sampler, which repeats samples to fill the last batches, every index is yielded exactly once per
epoch: the leftovers of all bins are batched together at the end, in sampler order.
"""
from __future__ import annotations

import bisect
import math
from collections import defaultdict
from typing import Iterator, Sequence

from torch.utils.data import BatchSampler, Sampler


def aspect_ratio_groups(aspect_ratios: Sequence[float], k: int = 3) -> list[int]:
    """Group id of each ratio: ``2k + 2`` bins split at ``2 ** linspace(-1, 1, 2k + 1)`` (torchvision's default k=3).

    ``k = 0`` puts every image in one group.
    """
    if k == 0:
        return [0] * len(aspect_ratios)
    edges = [2 ** (-1 + 2 * i / (2 * k)) for i in range(2 * k + 1)]
    return [bisect.bisect_right(edges, ratio) for ratio in aspect_ratios]


class GroupedBatchSampler(BatchSampler):
    """Yields lists of ``batch_size`` indices from ``sampler`` that share a group id (see the module docstring)."""

    def __init__(self, sampler: Sampler[int], group_ids: Sequence[int], batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.sampler = sampler
        self.group_ids = list(group_ids)
        self.batch_size = batch_size
        self.drop_last = False

    def __iter__(self) -> Iterator[list[int]]:
        buffers: dict[int, list[tuple[int, int]]] = defaultdict(list)  # group -> [(position in sampler, index)]
        for position, index in enumerate(self.sampler):
            buffer = buffers[self.group_ids[index]]
            buffer.append((position, index))
            if len(buffer) == self.batch_size:
                yield [i for _, i in buffer]
                buffer.clear()
        leftovers = [i for _, i in sorted(item for buffer in buffers.values() for item in buffer)]
        for start in range(0, len(leftovers), self.batch_size):
            yield leftovers[start:start + self.batch_size]

    def __len__(self) -> int:
        counts: dict[int, int] = defaultdict(int)
        for index in self.sampler:
            counts[self.group_ids[index]] += 1
        full = sum(c // self.batch_size for c in counts.values())
        leftover = sum(c % self.batch_size for c in counts.values())
        return full + math.ceil(leftover / self.batch_size)
