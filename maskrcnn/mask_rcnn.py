"""Mask R-CNN (He et al. 2017): Faster R-CNN plus a mask branch on the positive / detected boxes."""
from __future__ import annotations

from typing import Optional

from torch import nn
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights, MaskRCNN_ResNet50_FPN_Weights  # noqa: F401 (re-exported)

from .faster_rcnn import ROI_FEATURE_MAPS, FasterRCNN
from .lazy_builders import builder_lookup
from .poolers import MultiScaleRoIAlign
from .roi_heads.mask_head import MaskRCNNHeads, MaskRCNNPredictor

MASK_HEAD_LAYERS = (256, 256, 256, 256)


class MaskRCNN(FasterRCNN):
    """Faster R-CNN plus a mask branch: takes every argument of :class:`FasterRCNN` by keyword, plus three more.

    Training targets also need ``masks`` ``[G, H, W]`` uint8 per image; inference also returns ``masks``
    ``[D, 1, H, W]``, float probabilities pasted into the input image (threshold at 0.5 for a binary mask).

    Args:
        mask_roi_pool: None means a 14 x 14 ``MultiScaleRoIAlign`` on levels "0".."3".
        mask_head: None means ``MaskRCNNHeads`` (four 3x3 convolutions, 256 wide, each with a ReLU).
        mask_predictor: None means ``MaskRCNNPredictor`` (2x upsampling, 28 x 28 logits per class).

    The mask parts are built before the Faster R-CNN parts, as torchvision does, so that seeded initialisation
    draws the same numbers.
    """

    def __init__(self, backbone: nn.Module, num_classes: Optional[int] = None, *,
                 mask_roi_pool: Optional[MultiScaleRoIAlign] = None, mask_head: Optional[nn.Module] = None,
                 mask_predictor: Optional[nn.Module] = None, **kwargs) -> None:
        if not isinstance(mask_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(f"mask_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                            f"{type(mask_roi_pool)}")
        if num_classes is not None and mask_predictor is not None:
            raise ValueError("num_classes should be None when mask_predictor is specified")
        out_channels = backbone.out_channels
        if mask_roi_pool is None:
            mask_roi_pool = MultiScaleRoIAlign(ROI_FEATURE_MAPS, output_size=14, sampling_ratio=2)
        if mask_head is None:
            mask_head = MaskRCNNHeads(out_channels, MASK_HEAD_LAYERS, dilation=1)
        if mask_predictor is None:
            mask_predictor = MaskRCNNPredictor(MASK_HEAD_LAYERS[-1], 256, num_classes)
        super().__init__(backbone, num_classes, **kwargs)
        self.roi_heads.mask_roi_pool = mask_roi_pool
        self.roi_heads.mask_head = mask_head
        self.roi_heads.mask_predictor = mask_predictor


#: Builders torchvision's ``models.detection.mask_rcnn`` also holds (ours: the MobileNet ones); they live in
#: :mod:`maskrcnn.builders` (which imports this module), so they are looked up on first use.
BUILDERS = ("maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2", "maskrcnn_mobilenet_v3_large_fpn",
            "maskrcnn_mobilenet_v3_large_320_fpn")


__getattr__ = builder_lookup(__name__, BUILDERS)
