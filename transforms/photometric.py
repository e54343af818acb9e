"""RandomPhotometricDistort: colour augmentation (SSD-style), as torchvision's reference recipes use it.

Each of brightness, contrast, saturation, hue and a channel shuffle is applied with probability ``p``; contrast comes
either before or after saturation and hue (a coin flip). The colour operations are torchvision's
``transforms.functional`` ones. Geometry is untouched, so the target passes through.
"""
from __future__ import annotations

import torch
import torchvision.transforms.functional as TF
from torch import Tensor

from .compose import Target


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(1).item()


class RandomPhotometricDistort:
    def __init__(self, contrast: tuple[float, float] = (0.5, 1.5), saturation: tuple[float, float] = (0.5, 1.5),
                 hue: tuple[float, float] = (-0.05, 0.05), brightness: tuple[float, float] = (0.875, 1.125),
                 p: float = 0.5) -> None:
        self.contrast, self.saturation, self.hue, self.brightness = contrast, saturation, hue, brightness
        self.p = p

    def __call__(self, image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
        draws = torch.rand(7).tolist()
        if draws[0] < self.p:
            image = TF.adjust_brightness(image, _uniform(*self.brightness))
        contrast_first = draws[1] < 0.5
        if contrast_first and draws[2] < self.p:
            image = TF.adjust_contrast(image, _uniform(*self.contrast))
        if draws[3] < self.p:
            image = TF.adjust_saturation(image, _uniform(*self.saturation))
        if draws[4] < self.p:
            image = TF.adjust_hue(image, _uniform(*self.hue))
        if not contrast_first and draws[5] < self.p:
            image = TF.adjust_contrast(image, _uniform(*self.contrast))
        if draws[6] < self.p:
            image = image[torch.randperm(image.shape[-3])]
        return image, target

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(contrast={self.contrast}, saturation={self.saturation}, hue={self.hue}, "
                f"brightness={self.brightness}, p={self.p})")
