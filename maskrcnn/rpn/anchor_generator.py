"""Anchors: reference boxes tiled over every feature-map location, one set of sizes per pyramid level.

Convention (torchvision's): a cell anchor of size s and aspect ratio r = h / w is ``[-w/2, -h/2, w/2, h/2]`` with
``h = s * sqrt(r)``, ``w = s / sqrt(r)``, computed in float32 and rounded half to even (size 32 gives
``[-23, -11, 23, 11]``, ``[-16, -16, 16, 16]``, ``[-11, -23, 11, 23]``). Anchors sit at ``k * stride`` (no half-stride
offset), ordered by (y, x, anchor). The stride per axis is ``padded image size // feature size``, so it need not be a
power of two (the "pool" level of an 800 x 1088 batch has strides 61 and 64).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..image_list import ImageList


def cell_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> Tensor:
    """``[len(ratios) * len(sizes), 4]`` anchors centred on the origin, ratio-major."""
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    ratios = torch.as_tensor(aspect_ratios, dtype=torch.float32)
    h_ratios = torch.sqrt(ratios)
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h_ratios[:, None] * scales[None, :]).view(-1)
    return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()


class AnchorGenerator(nn.Module):
    """``sizes[i]`` and ``aspect_ratios[i]`` describe the anchors of feature level i."""

    def __init__(self, sizes: Sequence[Sequence[int]] = ((128, 256, 512),),
                 aspect_ratios: Sequence[Sequence[float]] = ((0.5, 1.0, 2.0),)) -> None:
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"sizes and aspect_ratios must describe the same number of levels, "
                             f"got {len(sizes)} and {len(aspect_ratios)}")
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        self.cell_anchors = [cell_anchors(s, a) for s, a in zip(sizes, aspect_ratios)]

    def num_anchors_per_location(self) -> list[int]:
        return [len(s) * len(a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes: list[tuple[int, int]], strides: list[tuple[int, int]], dtype: torch.dtype,
                     device: torch.device) -> list[Tensor]:
        """Per level ``[H * W * A, 4]`` anchors for a grid ``(H, W)`` with strides ``(sy, sx)``."""
        if not len(grid_sizes) == len(strides) == len(self.cell_anchors):
            raise ValueError(f"the anchor generator describes {len(self.cell_anchors)} feature levels but got "
                             f"{len(grid_sizes)} feature maps; give one tuple of sizes and ratios per level")
        anchors: list[Tensor] = []
        for grid_size, stride, base in zip(grid_sizes, strides, self.cell_anchors):
            (height, width), (stride_y, stride_x) = grid_size, stride
            base = base.to(dtype=dtype, device=device)
            shifts_x = torch.arange(0, width, dtype=torch.int32, device=device) * stride_x
            shifts_y = torch.arange(0, height, dtype=torch.int32, device=device) * stride_y
            shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
        return anchors

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        """The same ``[sum_levels H * W * A, 4]`` anchors for each image of the batch (they depend on the padded size)."""
        image_h, image_w = image_list.tensors.shape[-2], image_list.tensors.shape[-1]
        grid_sizes: list[tuple[int, int]] = []
        strides: list[tuple[int, int]] = []
        for f in feature_maps:
            grid_sizes.append((f.shape[-2], f.shape[-1]))
            strides.append((image_h // f.shape[-2], image_w // f.shape[-1]))
        levels = self.grid_anchors(grid_sizes, strides, feature_maps[0].dtype, feature_maps[0].device)
        all_levels = torch.cat(levels)
        return [all_levels for _ in image_list.image_sizes]
