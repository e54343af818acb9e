"""FixedSizeCrop: a random crop of at most ``size`` (height, width), padded up to exactly ``size``.

Boxes are shifted into the crop and clipped to it (boxes of objects the crop cuts are then re-derived from their
masks, so they still enclose exactly what is left); objects whose box collapses (entirely outside) or whose mask has no
pixel left are removed with their labels and masks. Padding goes to the bottom and right, so boxes need no shift for
it. The pair ScaleJitter + FixedSizeCrop is large-scale jitter, as in torchvision's long COCO recipes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .compose import Target
from .instances import remove_collapsed_instances


def crop(image: Tensor, target: Target, top: int, left: int, height: int, width: int) -> tuple[Tensor, Target]:
    image = image[..., top:top + height, left:left + width]
    if target is None:
        return image, target
    target = dict(target)
    if "boxes" in target:
        boxes = target["boxes"] - torch.tensor([left, top, left, top], dtype=target["boxes"].dtype)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        target["boxes"] = boxes
    if "keypoints" in target:  # shifted; a point cut off is no longer labelled (0, 0, 0)
        keypoints = target["keypoints"] - torch.tensor([left, top, 0], dtype=target["keypoints"].dtype)
        outside = (keypoints[..., 0] < 0) | (keypoints[..., 1] < 0) | (keypoints[..., 0] >= width) | \
            (keypoints[..., 1] >= height)
        keypoints[outside | (keypoints[..., 2] == 0)] = 0
        target["keypoints"] = keypoints
    if "masks" in target:
        target["masks"] = target["masks"][..., top:top + height, left:left + width]
        if "area" in target:  # what is left of each object
            target["area"] = target["masks"].flatten(1).sum(1).to(target["area"].dtype)
        if "boxes" in target:
            target["boxes"] = tighten_cut_boxes(target["boxes"], target["masks"], height, width)
    return image, remove_collapsed_instances(target)


def tighten_cut_boxes(boxes: Tensor, masks: Tensor, height: int, width: int) -> Tensor:
    """Boxes that the crop cut, shrunk to what is left of their masks.

    Clipping a box to the window keeps parts of the box the object does not reach (a disc cut off at one side keeps
    the full height of its box), so for cut objects the box is re-derived from the mask (as Detectron2's
    ``recompute_boxes`` does); boxes of whole objects are kept exactly.
    """
    cut = (boxes[:, 0] <= 0) | (boxes[:, 1] <= 0) | (boxes[:, 2] >= width) | (boxes[:, 3] >= height)
    if not bool(cut.any()):
        return boxes
    boxes = boxes.clone()
    rows = masks[cut].amax(dim=2) > 0  # N x H: which rows each mask reaches
    cols = masks[cut].amax(dim=1) > 0  # N x W
    present = rows.any(dim=1)
    first_row, last_row = rows.int().argmax(dim=1), height - 1 - rows.flip(1).int().argmax(dim=1)
    first_col, last_col = cols.int().argmax(dim=1), width - 1 - cols.flip(1).int().argmax(dim=1)
    tight = torch.stack([first_col, first_row, last_col + 1, last_row + 1], dim=1).to(boxes.dtype)
    # keep the clipped box where it is already tighter (sub-pixel) than the mask's pixel extent
    tight = torch.stack([torch.maximum(tight[:, 0], boxes[cut, 0]), torch.maximum(tight[:, 1], boxes[cut, 1]),
                         torch.minimum(tight[:, 2], boxes[cut, 2]), torch.minimum(tight[:, 3], boxes[cut, 3])], 1)
    boxes[cut] = torch.where(present[:, None], tight, torch.zeros_like(tight))
    return boxes


def pad_bottom_right(image: Tensor, target: Target, height: int, width: int, fill: float) -> tuple[Tensor, Target]:
    pad_y, pad_x = height - image.shape[-2], width - image.shape[-1]
    if pad_y == 0 and pad_x == 0:
        return image, target
    image = F.pad(image, (0, pad_x, 0, pad_y), value=fill)
    if target is not None and "masks" in target:
        target = dict(target)
        target["masks"] = F.pad(target["masks"], (0, pad_x, 0, pad_y), value=0)
    return image, target


class FixedSizeCrop:
    """Crop a random ``min(H, height) x min(W, width)`` window, then pad with ``fill`` to ``height x width``."""

    def __init__(self, size: tuple[int, int], fill: float = 0.0) -> None:
        self.size = tuple(size)
        self.fill = fill

    def __call__(self, image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
        height, width = image.shape[-2:]
        crop_height, crop_width = min(height, self.size[0]), min(width, self.size[1])
        top = int(torch.randint(height - crop_height + 1, (1,)))
        left = int(torch.randint(width - crop_width + 1, (1,)))
        image, target = crop(image, target, top, left, crop_height, crop_width)
        return pad_bottom_right(image, target, self.size[0], self.size[1], self.fill)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, fill={self.fill})"
