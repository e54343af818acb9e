"""maskrcnn: a from-scratch, modular Mask R-CNN whose every stage equals torchvision's.

Everything a user of ``torchvision.models.detection`` reaches for is importable from here, under the same name,
and torchvision's module paths exist too (``maskrcnn.backbone_utils``, ``maskrcnn.anchor_utils``,
``maskrcnn._utils``, ``maskrcnn.rpn``, ``maskrcnn.roi_heads``, ``maskrcnn.transform``, ...). The weight enums are
torchvision's own classes.
"""
from torchvision.models import (
    MobileNet_V3_Large_Weights,
    MobileNet_V3_Small_Weights,
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    ResNet152_Weights,
    WeightsEnum,
)
from torchvision.models.detection import (
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_V2_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
    KeypointRCNN_ResNet50_FPN_Weights,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
)

from .analysis import Inspection, inspect
from .backbone import (
    BackboneWithFPN,
    BasicBlock,
    Bottleneck,
    ExtraFPNBlock,
    FeaturePyramidNetwork,
    IntermediateLayerGetter,
    LastLevelMaxPool,
    MobileNetV3,
    ResNet,
    mobilenet_backbone,
    mobilenet_v3_large,
    mobilenet_v3_small,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet_fpn_backbone,
)
from .box_coder import BoxCoder
from .builders import (
    fasterrcnn_mobilenet_v3_large_320_fpn,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
    fasterrcnn_resnet50_fpn_v2,
    fpn_detector,
    keypointrcnn_resnet50_fpn,
    maskrcnn_mobilenet_v3_large_320_fpn,
    maskrcnn_mobilenet_v3_large_fpn,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
    resnet_fpn_detector,
)
from .checkpoint import CheckpointError
from .faster_rcnn import FasterRCNN
from .generalized_rcnn import GeneralizedRCNN
from .image_list import ImageList
from .keypoint_rcnn import KeypointRCNN
from .mask_rcnn import MaskRCNN
from .matcher import Matcher
from .ops import (
    Conv2dNormActivation,
    FrozenBatchNorm2d,
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    nms,
    remove_small_boxes,
)
from .ops.precision import fast_mode
from .optimized import deoptimize, optimize
from .poolers import MultiScaleRoIAlign
from .roi_heads import (
    FastRCNNConvFCHead,
    FastRCNNPredictor,
    KeypointRCNNHeads,
    KeypointRCNNPredictor,
    MaskRCNNHeads,
    MaskRCNNPredictor,
    RoIHeads,
    TwoMLPHead,
    fastrcnn_loss,
    keypointrcnn_loss,
    maskrcnn_loss,
    paste_masks_in_image,
)
from .rpn import AnchorGenerator, RegionProposalNetwork, RPNHead
from .sampling import BalancedPositiveNegativeSampler
from .transform import GeneralizedRCNNTransform
from .weights import WeightsUnavailableError

__version__ = "0.1.0"

__all__ = [
    # detectors and their builders
    "GeneralizedRCNN", "FasterRCNN", "MaskRCNN", "KeypointRCNN", "fpn_detector", "resnet_fpn_detector",
    "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2", "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn",
    "maskrcnn_mobilenet_v3_large_fpn", "maskrcnn_mobilenet_v3_large_320_fpn", "keypointrcnn_resnet50_fpn",
    # weights (torchvision's enums)
    "WeightsEnum", "MaskRCNN_ResNet50_FPN_Weights", "MaskRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_ResNet50_FPN_Weights", "FasterRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights", "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "KeypointRCNN_ResNet50_FPN_Weights", "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights", "ResNet152_Weights",
    "MobileNet_V3_Large_Weights", "MobileNet_V3_Small_Weights", "CheckpointError", "WeightsUnavailableError",
    # backbones
    "ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "MobileNetV3", "mobilenet_v3_large", "mobilenet_v3_small",
    "BackboneWithFPN", "IntermediateLayerGetter", "FeaturePyramidNetwork", "ExtraFPNBlock", "LastLevelMaxPool",
    "resnet_fpn_backbone", "mobilenet_backbone",
    # parts
    "GeneralizedRCNNTransform", "ImageList", "AnchorGenerator", "RPNHead", "RegionProposalNetwork",
    "MultiScaleRoIAlign", "RoIHeads", "TwoMLPHead", "FastRCNNConvFCHead", "FastRCNNPredictor", "MaskRCNNHeads",
    "MaskRCNNPredictor", "KeypointRCNNHeads", "KeypointRCNNPredictor", "BoxCoder", "Matcher",
    "BalancedPositiveNegativeSampler", "fastrcnn_loss", "maskrcnn_loss", "keypointrcnn_loss", "paste_masks_in_image",
    # ops
    "nms", "batched_nms", "box_area", "box_convert", "box_iou", "clip_boxes_to_image", "remove_small_boxes",
    "FrozenBatchNorm2d", "Conv2dNormActivation",
    # beyond torchvision: speed and inspection
    "optimize", "deoptimize", "fast_mode", "inspect", "Inspection",
]
