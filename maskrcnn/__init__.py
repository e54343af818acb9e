"""maskrcnn: a from-scratch, modular Mask R-CNN whose every stage equals torchvision's."""
from .box_coder import BoxCoder
from .matcher import Matcher
from .ops import batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image, nms, remove_small_boxes
from .sampling import BalancedPositiveNegativeSampler

__version__ = "0.1.0"

__all__ = [
    "BalancedPositiveNegativeSampler",
    "BoxCoder",
    "Matcher",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "nms",
    "remove_small_boxes",
]
