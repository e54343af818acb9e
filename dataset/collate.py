"""Batching for detection: images differ in size, so a batch stays a list (the model pads it itself)."""
from __future__ import annotations

from typing import Any, Sequence

from torch import Tensor


def collate_fn(batch: Sequence[tuple[Tensor, dict[str, Any]]]) -> tuple[list[Tensor], list[dict[str, Any]]]:
    """``[(image, target), ...]`` -> ``([image, ...], [target, ...])``, what ``MaskRCNN.forward`` takes."""
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    return images, targets
