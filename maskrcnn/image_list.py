"""A padded batch of images together with each image's size before padding."""

from typing import NamedTuple

import torch
from torch import Tensor


class ImageList(NamedTuple):
    """``tensors [N, C, H, W]`` zero-padded; ``image_sizes[i] = (h, w)`` of image i after resizing, before padding."""

    tensors: Tensor
    image_sizes: list[tuple[int, int]]

    def to(self, device: torch.device) -> "ImageList":
        return ImageList(self.tensors.to(device), self.image_sizes)
