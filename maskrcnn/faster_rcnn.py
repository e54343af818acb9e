"""Faster R-CNN: the detector with a box head; every part can be passed in, ``None`` meaning the default."""
from __future__ import annotations

from typing import Optional, Sequence

from torch import nn
from torchvision.models.detection import (  # noqa: F401 (re-exported)
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_V2_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
)

from .generalized_rcnn import GeneralizedRCNN
from .lazy_builders import builder_lookup
from .poolers import MultiScaleRoIAlign
from .roi_heads.box_head import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead  # noqa: F401 (torchvision path)
from .roi_heads.roi_heads import RoIHeads
from .rpn.anchor_generator import AnchorGenerator
from .rpn.head import RPNHead
from .rpn.rpn import RegionProposalNetwork
from .transform import IMAGENET_MEAN, IMAGENET_STD, GeneralizedRCNNTransform

#: Pyramid levels the heads pool from ("pool" feeds the RPN only).
ROI_FEATURE_MAPS = ["0", "1", "2", "3"]
REPRESENTATION_SIZE = 1024
#: Side of the feature grid the box head pools for each RoI.
BOX_POOL_SIZE = 7


def default_anchor_generator() -> AnchorGenerator:
    """One anchor size per FPN level (32 on P2 ... 512 on P6), three aspect ratios each."""
    sizes = ((32,), (64,), (128,), (256,), (512,))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


class FasterRCNN(GeneralizedRCNN):
    """Faster R-CNN: a backbone, a region proposal network and a box branch; torchvision's arguments and defaults.

    Input: a list of float RGB images ``[3, H, W]`` in [0, 1], any sizes. Training also takes one target per image:
    ``boxes`` ``[G, 4]`` (xyxy, pixels of the input), ``labels`` ``[G]`` int64 (0 is background). Training returns the
    losses; inference returns per image ``boxes``, ``labels``, ``scores``.

    Args:
        backbone: module returning a feature map or an ordered dict of them, with an ``out_channels`` attribute.
        num_classes: classes including background; give it, or a ``box_predictor``, not both.
        min_size, max_size: the transform resizes the short side to ``min_size`` (a tuple: one drawn per training
            image), the long side to at most ``max_size``.
        image_mean, image_std: normalisation (None: ImageNet's).
        rpn_anchor_generator, rpn_head: None means 5 levels x 3 aspect ratios (sizes 32..512) and ``RPNHead``.
        rpn_pre_nms_top_n_train / _test: proposals kept per level before NMS.
        rpn_post_nms_top_n_train / _test: proposals kept per image after NMS.
        rpn_nms_thresh: NMS IoU of the proposals.
        rpn_fg_iou_thresh, rpn_bg_iou_thresh: anchor IoU for positives (>=) and negatives (<) in training.
        rpn_batch_size_per_image, rpn_positive_fraction: anchors sampled per image and their positive share.
        rpn_score_thresh: proposals with objectness probability below this are dropped.
        box_roi_pool, box_head, box_predictor: None means 7 x 7 ``MultiScaleRoIAlign``, ``TwoMLPHead`` (1024) and
            ``FastRCNNPredictor``.
        box_score_thresh: detections must score above this. box_nms_thresh: per-class NMS IoU.
        box_detections_per_img: detections kept per image.
        box_fg_iou_thresh, box_bg_iou_thresh: RoI IoU for foreground (>=) and background (<) in training.
        box_batch_size_per_image, box_positive_fraction: RoIs sampled per image and their foreground share.
        bbox_reg_weights: box coder weights (None: ``(10, 10, 5, 5)``).
        loss_weights: ours, not torchvision's: scales named losses, e.g. ``{"loss_box_reg": 2.0}``.
        **kwargs: passed to ``GeneralizedRCNNTransform`` (``size_divisible``, ``fixed_size``).
    """

    def __init__(self, backbone: nn.Module, num_classes: Optional[int] = None,
                 # transform
                 min_size: int = 800, max_size: int = 1333, image_mean: Optional[Sequence[float]] = None,
                 image_std: Optional[Sequence[float]] = None,
                 # RPN
                 rpn_anchor_generator: Optional[AnchorGenerator] = None, rpn_head: Optional[nn.Module] = None,
                 rpn_pre_nms_top_n_train: int = 2000, rpn_pre_nms_top_n_test: int = 1000,
                 rpn_post_nms_top_n_train: int = 2000, rpn_post_nms_top_n_test: int = 1000,
                 rpn_nms_thresh: float = 0.7, rpn_fg_iou_thresh: float = 0.7, rpn_bg_iou_thresh: float = 0.3,
                 rpn_batch_size_per_image: int = 256, rpn_positive_fraction: float = 0.5,
                 rpn_score_thresh: float = 0.0,
                 # box branch
                 box_roi_pool: Optional[MultiScaleRoIAlign] = None, box_head: Optional[nn.Module] = None,
                 box_predictor: Optional[nn.Module] = None, box_score_thresh: float = 0.05,
                 box_nms_thresh: float = 0.5, box_detections_per_img: int = 100, box_fg_iou_thresh: float = 0.5,
                 box_bg_iou_thresh: float = 0.5, box_batch_size_per_image: int = 512,
                 box_positive_fraction: float = 0.25,
                 bbox_reg_weights: Optional[tuple[float, float, float, float]] = None,
                 loss_weights: Optional[dict[str, float]] = None, **kwargs) -> None:
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the number of output "
                             "channels (assumed to be the same for all the levels)")
        if not isinstance(rpn_anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(f"rpn_anchor_generator should be of type AnchorGenerator or None instead of "
                            f"{type(rpn_anchor_generator)}")
        if not isinstance(box_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(f"box_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                            f"{type(box_roi_pool)}")
        if num_classes is not None and box_predictor is not None:
            raise ValueError("num_classes should be None when box_predictor is specified")
        if num_classes is None and box_predictor is None:
            raise ValueError("num_classes should not be None when box_predictor is not specified")
        out_channels = backbone.out_channels
        if rpn_anchor_generator is None:
            rpn_anchor_generator = default_anchor_generator()
        if rpn_head is None:
            rpn_head = RPNHead(out_channels, rpn_anchor_generator.num_anchors_per_location()[0])
        rpn = RegionProposalNetwork(
            rpn_anchor_generator, rpn_head, rpn_fg_iou_thresh, rpn_bg_iou_thresh, rpn_batch_size_per_image,
            rpn_positive_fraction, {"training": rpn_pre_nms_top_n_train, "testing": rpn_pre_nms_top_n_test},
            {"training": rpn_post_nms_top_n_train, "testing": rpn_post_nms_top_n_test}, rpn_nms_thresh,
            score_thresh=rpn_score_thresh)
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(ROI_FEATURE_MAPS, output_size=BOX_POOL_SIZE, sampling_ratio=2)
        if box_head is None:
            resolution = box_roi_pool.output_size[0]
            box_head = TwoMLPHead(out_channels * resolution**2, REPRESENTATION_SIZE)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(REPRESENTATION_SIZE, num_classes)
        roi_heads = RoIHeads(box_roi_pool, box_head, box_predictor, box_fg_iou_thresh, box_bg_iou_thresh,
                             box_batch_size_per_image, box_positive_fraction, bbox_reg_weights, box_score_thresh,
                             box_nms_thresh, box_detections_per_img)
        transform = GeneralizedRCNNTransform(min_size, max_size, image_mean or IMAGENET_MEAN,
                                             image_std or IMAGENET_STD, **kwargs)
        super().__init__(backbone, rpn, roi_heads, transform, loss_weights)


#: Names torchvision's ``models.detection.faster_rcnn`` also holds; the builders live in :mod:`maskrcnn.builders`
#: (which imports this module), so they are looked up on first use.
BUILDERS = ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
            "fasterrcnn_mobilenet_v3_large_320_fpn")


__getattr__ = builder_lookup(__name__, BUILDERS)
