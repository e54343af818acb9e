"""Multi-scale RoIAlign: each box is pooled from the pyramid level that matches its size (FPN paper, eq. 1).

Level ``k = floor(4 + log2(sqrt(area) / 224) + 1e-6)`` clamped to the levels present (2..5 for "0".."3"): a 224 x 224
box reads level 4 (stride 16). Each level's scale (1/4 ... 1/32) is inferred from its feature height over the
largest image height in the batch, rounded to a power of two. Pooling is ``torchvision.ops.roi_align`` with
``aligned=False`` (the original Mask R-CNN's pixel model; no half-pixel shift). Scales are recomputed each call from
that call's shapes rather than cached on the module.

Under FX symbolic tracing (``torch.fx.symbolic_trace``, ``create_feature_extractor``) the pooling is recorded as one
call of :func:`multiscale_roi_align`, as torchvision records its own: a dict of proxies cannot be iterated. That call
runs the plain module's code on the same arguments (an override of ``pool_level`` in a subclass is not recorded).

:func:`maskrcnn.optimize` swaps this module for ``GatherMultiScaleRoIAlign``, which takes the same samples on a CPU
as a multi-threaded weighted gather.
"""

from typing import Sequence, Union

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align

from .ops.boxes import box_area

#: A box of this side length (pixels) maps to ``CANONICAL_LEVEL``: ImageNet's pre-training crop size.
CANONICAL_SCALE = 224
CANONICAL_LEVEL = 4
#: Keeps boxes whose log2 lands exactly on an integer from flooring one level down through rounding error.
LEVEL_EPS = 1e-6


class LevelMapper:
    """Maps boxes to indices into the pyramid levels ``k_min..k_max`` (0 = finest)."""

    def __init__(self, k_min: int, k_max: int, canonical_scale: int = CANONICAL_SCALE,
                 canonical_level: int = CANONICAL_LEVEL, eps: float = LEVEL_EPS) -> None:
        self.k_min, self.k_max = k_min, k_max
        self.s0, self.lvl0, self.eps = canonical_scale, canonical_level, eps

    def __call__(self, boxlists: list[Tensor]) -> Tensor:
        s = torch.sqrt(torch.cat([box_area(b) for b in boxlists]))
        levels = torch.floor(self.lvl0 + torch.log2(s / self.s0) + torch.tensor(self.eps, dtype=s.dtype))
        return (torch.clamp(levels, min=self.k_min, max=self.k_max).to(torch.int64) - self.k_min).to(torch.int64)


def infer_scale(feature: Tensor, image_height: int) -> float:
    """The power of two nearest to ``feature height / image height`` (a constant in an exported graph: it does not
    depend on the image size)."""
    approx = torch.tensor(feature.shape[-2], dtype=torch.float64) / torch.tensor(image_height, dtype=torch.float64)
    return 2.0 ** float(approx.log2().round())


def boxes_to_rois(boxes: list[Tensor]) -> Tensor:
    """Per-image boxes to ``[K, 5]`` rows ``(image index, x1, y1, x2, y2)``, the layout roi_align takes."""
    concat = torch.cat(boxes, dim=0)
    ids = [torch.full_like(b[:, :1], i, dtype=concat.dtype, layout=torch.strided, device=concat.device)
           for i, b in enumerate(boxes)]
    return torch.cat([torch.cat(ids, dim=0), concat], dim=1)


@torch.jit.unused
def fx_tracing() -> bool:
    """Under ``torch.fx.symbolic_trace`` (not ``torch.compile``)."""
    return torch.fx._symbolic_trace.is_fx_symbolic_tracing()


@torch.fx.wrap
def multiscale_roi_align(x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]],
                         featmap_names: list[str], output_size: tuple[int, int], sampling_ratio: int,
                         canonical_scale: int, canonical_level: int) -> Tensor:
    """A plain :class:`MultiScaleRoIAlign` of these settings applied to ``x``: one leaf node in an FX graph."""
    pooler = MultiScaleRoIAlign(featmap_names, output_size, sampling_ratio, canonical_scale=canonical_scale,
                                canonical_level=canonical_level)
    return pooler(x, boxes, image_shapes)


@torch.jit.unused
def traced_merge_levels(levels: Tensor, pooled: list[Tensor]) -> Tensor:
    """While tracing for export: the per-level results scattered into one tensor in box order (the exported graph
    has no in-place indexed assignment)."""
    first = pooled[0]
    result = first.new_zeros([levels.shape[0]] + list(first.shape[1:]))
    for level, level_result in enumerate(pooled):
        index = torch.where(levels == level)[0].view(-1, 1, 1, 1).expand_as(level_result)
        result = result.scatter(0, index, level_result)
    return result


class MultiScaleRoIAlign(nn.Module):
    """Pools a fixed-size feature for each box from the pyramid level that fits its size.

    Args:
        featmap_names: names of the feature maps (in the backbone's ordered dict) to pool from, finest first.
        output_size: ``(h, w)`` (or one int) of each pooled feature: 7 for the box head, 14 for the mask head.
        sampling_ratio: bilinear samples per bin side (2 in the detectors); 0 or less: adaptive,
            ``ceil(roi size / output size)``, as ``roi_align`` defines it.
        canonical_scale, canonical_level: a box of side ``canonical_scale`` maps to level ``canonical_level``
            (224 and 4: ImageNet's crop size on the stride-16 level).
    """

    def __init__(self, featmap_names: list[str], output_size: Union[int, Sequence[int]], sampling_ratio: int, *,
                 canonical_scale: int = CANONICAL_SCALE, canonical_level: int = CANONICAL_LEVEL) -> None:
        super().__init__()
        self.featmap_names = list(featmap_names)
        self.output_size: tuple[int, int] = ((output_size, output_size) if isinstance(output_size, int)
                                             else (output_size[0], output_size[1]))
        self.sampling_ratio = sampling_ratio
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def scales_and_mapper(self, features: list[Tensor], image_shapes: list[tuple[int, int]]
                          ) -> tuple[list[float], LevelMapper]:
        if len(image_shapes) == 0:
            raise ValueError("images list should not be empty")
        max_height = image_shapes[0][0]
        for shape in image_shapes[1:]:
            max_height = max(max_height, shape[0])
        scales = [infer_scale(f, max_height) for f in features]
        k_min = int(-torch.log2(torch.tensor(scales[0], dtype=torch.float64)).item())
        k_max = int(-torch.log2(torch.tensor(scales[-1], dtype=torch.float64)).item())
        return scales, LevelMapper(k_min, k_max, self.canonical_scale, self.canonical_level)

    def pool_level(self, feature: Tensor, rois: Tensor, scale: float) -> Tensor:
        """``roi_align`` of one level: ``[K, C, out_h, out_w]`` for ``rois [K, 5]``."""
        return roi_align(feature, rois, self.output_size, spatial_scale=scale, sampling_ratio=self.sampling_ratio)

    def new_result(self, feature: Tensor, num_rois: int) -> Tensor:
        """The zero-filled output the levels are written into."""
        return feature.new_zeros((num_rois, feature.shape[1], self.output_size[0], self.output_size[1]))

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        """``[sum K_i, C, out_h, out_w]`` features for the boxes (xyxy, resized image coordinates) of every image."""
        if not torch.jit.is_scripting():
            if fx_tracing():
                return multiscale_roi_align(x, boxes, image_shapes, self.featmap_names, self.output_size,
                                            self.sampling_ratio, self.canonical_scale, self.canonical_level)
        features: list[Tensor] = []
        for name, feature in x.items():
            if name in self.featmap_names:
                features.append(feature)
        scales, mapper = self.scales_and_mapper(features, image_shapes)
        rois = boxes_to_rois(boxes)
        if len(features) == 1:
            return self.pool_level(features[0], rois, scales[0])
        levels = mapper(boxes)
        if torch.jit.is_tracing():
            return traced_merge_levels(levels, [self.pool_level(feature, rois[torch.where(levels == level)[0]], scale)
                                                for level, (feature, scale) in enumerate(zip(features, scales))])
        result = self.new_result(features[0], rois.shape[0])
        for level, (feature, scale) in enumerate(zip(features, scales)):
            in_level = torch.where(levels == level)[0]
            result[in_level] = self.pool_level(feature, rois[in_level], scale).to(result.dtype)
        return result

    def extra_repr(self) -> str:
        return (f"featmap_names={self.featmap_names}, output_size={self.output_size}, "
                f"sampling_ratio={self.sampling_ratio}")
