"""Chaining transforms, and turning an image from disk into the float tensor the rest expect.

Every transform here is called as ``transform(image, target) -> (image, target)``: ``image`` a float ``3 x H x W``
tensor in [0, 1], ``target`` the dataset's dict (``boxes`` xyxy in pixels, ``masks`` uint8 ``N x H x W``, ...), or
``None`` at prediction time.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

Target = Optional[dict[str, Any]]


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Tensor, Target], tuple[Tensor, Target]]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Tensor, target: Target = None) -> tuple[Tensor, Target]:
        for transform in self.transforms:
            image, target = transform(image, target)
        return image, target

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}," for t in self.transforms)
        return f"{type(self).__name__}([{inner}\n])"


class ToTensor:
    """An ``H x W x 3`` uint8 array, a PIL image or a uint8 tensor -> float ``3 x H x W`` in [0, 1].

    A float tensor passes through unchanged (the dataset already yields those), so this is safe at the head of any
    pipeline.
    """

    def __call__(self, image: Any, target: Target = None) -> tuple[Tensor, Target]:
        if isinstance(image, Tensor):
            tensor = image
        else:
            array = np.asarray(image)
            if array.ndim == 2:
                array = np.repeat(array[:, :, None], 3, axis=2)
            tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
        if not tensor.is_floating_point():
            tensor = tensor.float().div_(255)
        return tensor, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
