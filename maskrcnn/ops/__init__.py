"""Tensor operations on boxes: geometry and non-maximum suppression."""
from .boxes import box_area, box_convert, box_iou, clip_boxes_to_image, remove_small_boxes
from .non_max_suppression import batched_nms, nms

__all__ = ["box_area", "box_convert", "box_iou", "clip_boxes_to_image", "remove_small_boxes", "nms", "batched_nms"]
