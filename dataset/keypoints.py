"""Keypoints in COCO files (``person_keypoints_*.json``): names, the left/right swap of a horizontal flip, and the
``[N, K, 3]`` targets.

A COCO keypoint file names its keypoints in its category (``"keypoints": ["nose", "left_eye", ...]``) and gives each
annotation ``"keypoints": [x1, y1, v1, x2, y2, v2, ...]`` with ``v`` 0 (not labelled, x = y = 0), 1 (labelled, not
visible) or 2 (visible), pixels of the image. A horizontal flip mirrors x and swaps each ``left_*`` keypoint with
its ``right_*`` twin (COCO's flip indices are this swap of its names; :func:`transforms.flip.hflip_keypoints`
applies it); a point with ``v = 0`` stays (0, 0, 0).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from pycocotools.coco import COCO
from torch import Tensor

from .errors import DatasetError

#: COCO's person skeleton (its person_keypoints files' ``skeleton``), as 0-based pairs of its 17 keypoints.
COCO_PERSON_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
                        (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
SIDES = (("left_", "right_"), ("right_", "left_"), ("left", "right"), ("right", "left"))


def keypoint_names(coco: COCO, source: str) -> Optional[list[str]]:
    """The keypoint names the file's categories declare (None: not a keypoint file); every category that declares
    keypoints must declare the same ones."""
    declared = [c["keypoints"] for c in coco.dataset.get("categories", []) if c.get("keypoints")]
    if not declared:
        return None
    if any(list(names) != list(declared[0]) for names in declared):
        raise DatasetError(f"{source}: its categories declare different keypoints; a model predicts one set")
    return [str(name) for name in declared[0]]


def flip_permutation(names: Sequence[str]) -> list[int]:
    """Index ``j`` of the keypoint that keypoint ``i`` becomes in a mirrored image: ``left_*`` <-> ``right_*``, any
    other name itself."""
    index = {name: i for i, name in enumerate(names)}
    permutation = []
    for name in names:
        mirrored = name
        for side, other in SIDES:
            if name.startswith(side):
                mirrored = other + name[len(side):]
                break
        permutation.append(index.get(mirrored, index[name]))
    return permutation


def keypoints_of(annotations: Sequence[dict[str, Any]], count: int, source: str) -> Tensor:
    """float32 ``[N, count, 3]`` of the annotations; a DatasetError names one without ``count`` triples."""
    rows = []
    for ann in annotations:
        values = ann.get("keypoints")
        if not isinstance(values, list) or len(values) != 3 * count:
            found = f"{len(values)} numbers" if isinstance(values, list) else "none"
            raise DatasetError(f"{source}: annotation {ann.get('id')} (image {ann.get('image_id')}) has {found} in "
                               f"'keypoints'; expected {3 * count} (x, y, visibility for each of {count} keypoints)")
        rows.append(values)
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), count, 3)
