"""Per-instance bookkeeping shared by the geometric transforms.

A target holds per-image fields (``image_id``) and per-instance fields, one row per object. When an object leaves the
image or collapses, every per-instance field must lose the same row, or labels and masks drift away from their boxes.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor

#: Target fields with one row per instance.
PER_INSTANCE_KEYS = ("boxes", "labels", "masks", "area", "iscrowd", "keypoints")


def select_instances(target: dict[str, Any], keep: Tensor) -> dict[str, Any]:
    """A copy of ``target`` with only the instances where ``keep`` (bool, one per instance) is true."""
    return {key: value[keep] if key in PER_INSTANCE_KEYS and isinstance(value, Tensor) else value
            for key, value in target.items()}


def remove_collapsed_instances(target: dict[str, Any]) -> dict[str, Any]:
    """Drop instances whose box has no area (``x2 <= x1`` or ``y2 <= y1``) or whose mask has no pixel left."""
    boxes = target.get("boxes")
    if boxes is None:
        return target
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    masks = target.get("masks")
    if masks is not None and len(masks):
        keep &= masks.flatten(1).amax(dim=1) > 0
    return target if bool(keep.all()) else select_instances(target, keep)
