"""maskrcnn: a from-scratch, modular Mask R-CNN whose every stage equals torchvision's.

Everything a user of ``torchvision.models.detection`` reaches for is importable from here, under the same name.
"""
from types import ModuleType as _ModuleType

from .backbone import (BackboneWithFPN, BasicBlock, Bottleneck, ExtraFPNBlock, FeaturePyramidNetwork,
                       IntermediateLayerGetter, LastLevelMaxPool, ResNet, resnet18, resnet34, resnet50, resnet101,
                       resnet152, resnet_fpn_backbone)
from .box_coder import BoxCoder
from .builders import (fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2, maskrcnn_resnet50_fpn,
                       maskrcnn_resnet50_fpn_v2, resnet_fpn_detector)
from .checkpoint import CheckpointError
from .faster_rcnn import FasterRCNN
from .generalized_rcnn import GeneralizedRCNN
from .image_list import ImageList
from .inspection import Inspection, inspect
from .mask_rcnn import MaskRCNN
from .matcher import Matcher
from .ops.precision import fast_mode
from .optimized import deoptimize, optimize
from .ops import (Conv2dNormActivation, FrozenBatchNorm2d, batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image, nms,
                  remove_small_boxes)
from .poolers import MultiScaleRoIAlign
from .roi_heads import (FastRCNNConvFCHead, FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor, RoIHeads,
                        TwoMLPHead, fastrcnn_loss,
                        maskrcnn_loss, paste_masks_in_image)
from .rpn import AnchorGenerator, RegionProposalNetwork, RPNHead
from .sampling import BalancedPositiveNegativeSampler
from .transform import GeneralizedRCNNTransform

__version__ = "0.1.0"

__all__ = [name for name, value in dict(globals()).items()
           if not name.startswith("_") and name != "annotations" and not isinstance(value, _ModuleType)]
