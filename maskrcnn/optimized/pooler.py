"""Multi-scale RoIAlign whose CPU levels are pooled as a weighted gather (:mod:`maskrcnn.ops.roi_align_gather`).

The same sample points and bilinear weights as ``torchvision.ops.roi_align(aligned=False)``, computed as one
``embedding_bag`` over the channels-last map: whole channel rows at a time, on every thread, with a row scatter-add
as gradient. On CUDA, or with the adaptive sampling grid (``sampling_ratio <= 0``), torchvision's kernel runs.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..ops.precision import REDUCED_DTYPES
from ..ops.roi_align_gather import roi_align_gather
from ..poolers import MultiScaleRoIAlign


class GatherMultiScaleRoIAlign(MultiScaleRoIAlign):
    @staticmethod
    def recognises(pooler: MultiScaleRoIAlign) -> bool:
        return pooler.sampling_ratio > 0

    def uses_gather(self, feature: Tensor) -> bool:
        return feature.device.type == "cpu" and self.sampling_ratio > 0

    def pool_level(self, feature: Tensor, rois: Tensor, scale: float) -> Tensor:
        if not self.uses_gather(feature):
            return super().pool_level(feature, rois, scale)
        # under fast mode a level is 16-bit; pooling reads it in float32, as torchvision's autocast rule does
        source = feature.float() if feature.dtype in REDUCED_DTYPES else feature
        return roi_align_gather(source, rois, self.output_size, scale, self.sampling_ratio).to(feature.dtype)

    def new_result(self, feature: Tensor, num_rois: int) -> Tensor:
        result = super().new_result(feature, num_rois)
        return result.contiguous(memory_format=torch.channels_last) if self.uses_gather(feature) else result
