"""Tensor operations and small layers: box geometry, non-maximum suppression, frozen batch norm."""
from .boxes import box_area, box_convert, box_iou, clip_boxes_to_image, remove_small_boxes
from .conv_norm_act import Conv2dNormActivation
from .frozen_batch_norm import FrozenBatchNorm2d
from .non_max_suppression import batched_nms, nms

__all__ = ["box_area", "box_convert", "box_iou", "clip_boxes_to_image", "remove_small_boxes", "nms", "batched_nms",
           "FrozenBatchNorm2d", "Conv2dNormActivation"]
