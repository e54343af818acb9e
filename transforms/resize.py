"""Resizing for augmentation: multi-scale training (RandomShortestSize) and large-scale jitter (ScaleJitter).

The image is resized bilinearly with antialiasing (so shrinking does not alias), masks with nearest neighbour (they
stay 0/1), and boxes are multiplied by ``new / old`` size per axis. Sizes are truncated to integers the way
torchvision's reference transforms do. The model's own transform resizes again to its ``min_size`` / ``max_size``;
these transforms decide what the model gets to see before that.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .compose import Target
from .instances import remove_collapsed_instances


def resize(image: Tensor, target: Target, height: int, width: int) -> tuple[Tensor, Target]:
    """Resize the image to ``height x width`` and its target with it; instances that vanish are dropped."""
    old_height, old_width = image.shape[-2:]
    image = F.interpolate(image[None], size=(height, width), mode="bilinear", align_corners=False,
                          antialias=True)[0]
    if target is None:
        return image, target
    target = dict(target)
    scale_x, scale_y = width / old_width, height / old_height
    if "boxes" in target:
        target["boxes"] = target["boxes"] * torch.tensor([scale_x, scale_y, scale_x, scale_y],
                                                         dtype=target["boxes"].dtype)
    if "area" in target:
        target["area"] = target["area"] * (scale_x * scale_y)
    if "keypoints" in target:  # x and y scaled, visibility kept
        target["keypoints"] = target["keypoints"] * torch.tensor([scale_x, scale_y, 1.0],
                                                                 dtype=target["keypoints"].dtype)
    if "masks" in target:
        masks = target["masks"]
        if len(masks):
            masks = F.interpolate(masks[:, None].float(), size=(height, width), mode="nearest")[:, 0].byte()
        else:
            masks = masks.new_zeros((0, height, width))
        target["masks"] = masks
    return image, remove_collapsed_instances(target)


class RandomShortestSize:
    """Multi-scale training: resize so the short side is one of ``min_size`` (drawn uniformly), the long side at most
    ``max_size``.

    torchvision's COCO recipes use e.g. ``min_size=(480, 512, ..., 800)``, ``max_size=1333``.
    """

    def __init__(self, min_size: int | Sequence[int], max_size: int) -> None:
        self.min_size = [min_size] if isinstance(min_size, int) else list(min_size)
        self.max_size = max_size

    def __call__(self, image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
        height, width = image.shape[-2:]
        short = self.min_size[int(torch.randint(len(self.min_size), (1,)))]
        ratio = min(short / min(height, width), self.max_size / max(height, width))
        return resize(image, target, max(1, int(height * ratio)), max(1, int(width * ratio)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(min_size={self.min_size}, max_size={self.max_size})"


class ScaleJitter:
    """Large-scale jitter (Ghiasi et al., "Simple Copy-Paste", 2021): fit the image into ``target_size`` (height,
    width), then scale by a factor drawn uniformly from ``scale_range``. Follow with :class:`FixedSizeCrop` to get a
    fixed canvas.
    """

    def __init__(self, target_size: tuple[int, int], scale_range: tuple[float, float] = (0.1, 2.0)) -> None:
        self.target_size = tuple(target_size)
        self.scale_range = tuple(scale_range)

    def __call__(self, image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
        height, width = image.shape[-2:]
        low, high = self.scale_range
        scale = low + (high - low) * torch.rand(1).item()
        ratio = min(self.target_size[0] / height, self.target_size[1] / width) * scale
        return resize(image, target, max(1, int(height * ratio)), max(1, int(width * ratio)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target_size={self.target_size}, scale_range={self.scale_range})"
