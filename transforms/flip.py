"""Horizontal flip: mirror the image, masks and boxes about the vertical centre line.

A box ``(x1, y1, x2, y2)`` in an image ``W`` wide becomes ``(W - x2, y1, W - x1, y2)``: with widths ``x2 - x1`` (no
``+1``), pixel columns ``[x1, x2)`` map to ``[W - x2, W - x1)``, so flipping twice gives back the input. Keypoints
``(x, y, v)`` become ``(W - x, y, v)``, left and right swapped by the target's ``keypoint_flip``.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .compose import Target


def hflip_keypoints(keypoints: Tensor, width: int, permutation: Optional[Tensor] = None) -> Tensor:
    """Keypoints of an image flipped left to right (``width`` pixels): x mirrored, left and right swapped by
    ``permutation`` (see :func:`flip_permutation`; None keeps the order), unlabelled points kept at (0, 0, 0)."""
    flipped = keypoints.clone()
    flipped[..., 0] = width - flipped[..., 0]
    if permutation is not None:
        flipped = flipped[:, permutation]
    flipped[flipped[..., 2] == 0] = 0
    return flipped


def hflip(image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
    width = image.shape[-1]
    image = image.flip(-1)
    if target is not None:
        target = dict(target)
        if "boxes" in target:
            boxes = target["boxes"]
            target["boxes"] = torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)
        if "masks" in target:
            target["masks"] = target["masks"].flip(-1)
        if "keypoints" in target:  # mirrored, left and right swapped (the dataset's keypoint_flip)
            target["keypoints"] = hflip_keypoints(target["keypoints"], width, target.get("keypoint_flip"))
    return image, target


class RandomHorizontalFlip:
    """Flip with probability ``p`` (one ``torch.rand`` per call, so seeded runs repeat)."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
        if torch.rand(1).item() < self.p:
            return hflip(image, target)
        return image, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"
