"""How well a detector's anchors fit a dataset's boxes: for each ground-truth box, its best IoU with any anchor.

The RPN learns from anchors matched at IoU >= 0.7 (positives; an object's best anchor counts too, however low) and
the boxes it proposes start from them: objects whose best anchor IoU is low are hard to propose. Boxes are taken to
the model's input frame as its transform resizes (short side ``min_size``, long side at most ``max_size``; batches
padded to a multiple of 32) and compared with the anchors the generator lays on a ResNet-FPN's levels for that size
(strides 4, 8, 16, 32 and the "pool" level at 64). Size ranges are COCO's (area under 32², 32²-96², over 96²), in
the resized frame, where the anchors are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor

from ..faster_rcnn import default_anchor_generator
from ..image_list import ImageList
from ..ops.boxes import box_area, box_iou
from ..rpn.anchor_generator import AnchorGenerator

SIZE_RANGES = (("small", 0.0, 32.0 ** 2), ("medium", 32.0 ** 2, 96.0 ** 2), ("large", 96.0 ** 2, math.inf))
#: Feature strides of a ResNet-FPN's levels "0".."3"; the "pool" level halves the last one again.
FPN_STRIDES = (4, 8, 16, 32)


@dataclass
class AnchorCoverage:
    best_iou: Tensor  # [G] each box's best IoU with an anchor
    areas: Tensor     # [G] each box's area in the resized frame

    def fraction_at_least(self, threshold: float, size_range: Optional[tuple[float, float]] = None) -> float:
        chosen = self.best_iou if size_range is None else \
            self.best_iou[(self.areas >= size_range[0]) & (self.areas < size_range[1])]
        return float((chosen >= threshold).float().mean()) if len(chosen) else float("nan")

    def count(self, size_range: tuple[float, float]) -> int:
        return int(((self.areas >= size_range[0]) & (self.areas < size_range[1])).sum())

    def histogram(self, bins: int = 10) -> list[int]:
        """Boxes per best-IoU bin ``[k / bins, (k + 1) / bins)`` (the last bin includes 1)."""
        index = (self.best_iou * bins).long().clamp(max=bins - 1)
        return torch.bincount(index, minlength=bins).tolist()


def resized_frame(height: int, width: int, min_size: int, max_size: int) -> tuple[int, int, float, float]:
    """``(resized h, resized w, y scale, x scale)`` as ``GeneralizedRCNNTransform`` resizes an image."""
    scale = min(min_size / min(height, width), max_size / max(height, width))
    new_h, new_w = math.floor(height * scale), math.floor(width * scale)
    return new_h, new_w, new_h / height, new_w / width


def fpn_feature_sizes(padded_h: int, padded_w: int) -> list[tuple[int, int]]:
    sizes = [(math.ceil(padded_h / s), math.ceil(padded_w / s)) for s in FPN_STRIDES]
    last_h, last_w = sizes[-1]
    return sizes + [(math.ceil(last_h / 2), math.ceil(last_w / 2))]


def input_anchors(height: int, width: int, min_size: int, max_size: int, generator: AnchorGenerator,
                  size_divisible: int = 32) -> tuple[Tensor, tuple[float, float]]:
    """The anchors a ResNet-FPN detector lays on an ``height x width`` image (resized frame), and ``(sy, sx)``."""
    new_h, new_w, sy, sx = resized_frame(height, width, min_size, max_size)
    padded_h = math.ceil(new_h / size_divisible) * size_divisible
    padded_w = math.ceil(new_w / size_divisible) * size_divisible
    features = [torch.empty(1, 1, h, w) for h, w in fpn_feature_sizes(padded_h, padded_w)]
    return generator(ImageList(torch.empty(1, 1, padded_h, padded_w), [(new_h, new_w)]), features)[0], (sy, sx)


def anchor_coverage(boxes: Sequence[Tensor], image_sizes: Sequence[tuple[int, int]], min_size: int = 800,
                    max_size: int = 1333, anchor_generator: Optional[AnchorGenerator] = None) -> AnchorCoverage:
    """``boxes[i]`` (xyxy, pixels of image i, whose size is ``image_sizes[i] = (h, w)``) against the anchors."""
    generator = anchor_generator or default_anchor_generator()
    best, areas = [], []
    for image_boxes, (height, width) in zip(boxes, image_sizes):
        if len(image_boxes) == 0:
            continue
        anchors, (sy, sx) = input_anchors(height, width, min_size, max_size, generator)
        resized = image_boxes.float() * torch.tensor([sx, sy, sx, sy])
        best.append(box_iou(resized, anchors).max(dim=1).values)
        areas.append(box_area(resized))
    if not best:
        return AnchorCoverage(torch.zeros(0), torch.zeros(0))
    return AnchorCoverage(torch.cat(best), torch.cat(areas))
