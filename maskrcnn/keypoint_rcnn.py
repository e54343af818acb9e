"""Keypoint R-CNN (Mask R-CNN paper, section 5): Faster R-CNN plus a keypoint branch on the positive / detected
boxes, each keypoint a one-hot 56 x 56 mask learnt with a softmax over its cells."""
from __future__ import annotations

from typing import Optional

from torch import nn
from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights  # noqa: F401 (re-exported)

from .faster_rcnn import ROI_FEATURE_MAPS, FasterRCNN
from .lazy_builders import builder_lookup
from .poolers import MultiScaleRoIAlign
from .roi_heads.keypoint_head import KEYPOINT_HEAD_LAYERS, KeypointRCNNHeads, KeypointRCNNPredictor

#: COCO's person keypoints: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles.
COCO_NUM_KEYPOINTS = 17
#: torchvision's training sizes (one drawn per batch); inference uses the last.
KEYPOINT_MIN_SIZES = (640, 672, 704, 736, 768, 800)


class KeypointRCNN(FasterRCNN):
    """Faster R-CNN plus a keypoint branch: takes every argument of :class:`FasterRCNN` by keyword (``min_size``
    defaults to :data:`KEYPOINT_MIN_SIZES`), plus four more.

    Training targets also need ``keypoints`` ``[G, K, 3]`` float32 per image (x, y in input pixels, visibility: 0
    for a point not labelled); inference also returns ``keypoints`` ``[D, K, 3]`` (x, y, 1) and
    ``keypoints_scores`` ``[D, K]``.

    Args:
        keypoint_roi_pool: None means a 14 x 14 ``MultiScaleRoIAlign`` on levels "0".."3".
        keypoint_head: None means ``KeypointRCNNHeads`` (eight 3x3 convolutions, 512 wide).
        keypoint_predictor: None means ``KeypointRCNNPredictor`` (56 x 56 logits per keypoint).
        num_keypoints: None means 17 (COCO's); give it only without ``keypoint_predictor``.

    The keypoint parts are built before the Faster R-CNN parts, as torchvision does, so that seeded initialisation
    draws the same numbers.
    """

    def __init__(self, backbone: nn.Module, num_classes: Optional[int] = None, *, min_size=None,
                 keypoint_roi_pool: Optional[MultiScaleRoIAlign] = None, keypoint_head: Optional[nn.Module] = None,
                 keypoint_predictor: Optional[nn.Module] = None, num_keypoints: Optional[int] = None,
                 **kwargs) -> None:
        if not isinstance(keypoint_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(f"keypoint_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                            f"{type(keypoint_roi_pool)}")
        if num_keypoints is not None and keypoint_predictor is not None:
            raise ValueError("num_keypoints should be None when keypoint_predictor is specified")
        num_keypoints = COCO_NUM_KEYPOINTS if num_keypoints is None else num_keypoints
        out_channels = backbone.out_channels
        if keypoint_roi_pool is None:
            keypoint_roi_pool = MultiScaleRoIAlign(ROI_FEATURE_MAPS, output_size=14, sampling_ratio=2)
        if keypoint_head is None:
            keypoint_head = KeypointRCNNHeads(out_channels, KEYPOINT_HEAD_LAYERS)
        if keypoint_predictor is None:
            keypoint_predictor = KeypointRCNNPredictor(KEYPOINT_HEAD_LAYERS[-1], num_keypoints)
        super().__init__(backbone, num_classes, min_size=KEYPOINT_MIN_SIZES if min_size is None else min_size,
                         **kwargs)
        self.roi_heads.keypoint_roi_pool = keypoint_roi_pool
        self.roi_heads.keypoint_head = keypoint_head
        self.roi_heads.keypoint_predictor = keypoint_predictor


#: Builders torchvision's ``models.detection.keypoint_rcnn`` also holds; they live in :mod:`maskrcnn.builders`.
BUILDERS = ("keypointrcnn_resnet50_fpn",)


__getattr__ = builder_lookup(__name__, BUILDERS)
