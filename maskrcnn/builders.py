"""Builder functions with torchvision's signatures; weights are file paths (nothing is downloaded)."""
from __future__ import annotations

import os
import warnings
from typing import Optional, Union

from torch import nn

from .backbone.backbone_with_fpn import resnet_fpn_extractor
from .backbone.resnet import resnet50
from .checkpoint import (DETECTOR_CLASS_SPECIFIC, is_coco_v1_maskrcnn_file, load_state_dict_file,
                         load_state_dict_into, num_classes_in_state_dict, set_frozen_batch_norm_eps)
from .mask_rcnn import MaskRCNN
from .ops.frozen_batch_norm import FrozenBatchNorm2d

PathLike = Union[str, os.PathLike]

#: COCO's 80 categories keep their original ids 1..90 (with gaps), plus background 0.
COCO_NUM_CLASSES = 91
#: Backbone stages trained by default when starting from pretrained weights (layer2..layer4).
DEFAULT_TRAINABLE_BACKBONE_LAYERS = 3


def trainable_layers_for(is_trained: bool, trainable_backbone_layers: Optional[int]) -> int:
    """All 5 stages train from scratch; from pretrained weights the default is 3 (torchvision's rule)."""
    if not is_trained:
        if trainable_backbone_layers is not None:
            warnings.warn("Changing trainable_backbone_layers has no effect if neither weights nor weights_backbone "
                          "are given, falling back to trainable_backbone_layers=5 so that all layers are trainable")
        return 5
    if trainable_backbone_layers is None:
        return DEFAULT_TRAINABLE_BACKBONE_LAYERS
    if not 0 <= trainable_backbone_layers <= 5:
        raise ValueError(f"Trainable backbone layers should be in the range [0,5], got {trainable_backbone_layers}")
    return trainable_backbone_layers


def maskrcnn_resnet50_fpn(*, weights: Optional[PathLike] = None, progress: bool = True,
                          num_classes: Optional[int] = None, weights_backbone: Optional[PathLike] = None,
                          trainable_backbone_layers: Optional[int] = None, **kwargs) -> MaskRCNN:
    """Mask R-CNN with a ResNet-50-FPN backbone.

    ``weights``: a Mask R-CNN checkpoint file (torchvision's or ours). ``num_classes`` defaults to the file's (or
    91); a different value keeps every weight but the class-specific predictor layers (fine-tuning).
    ``weights_backbone``: an ImageNet ResNet-50 checkpoint file. With either, batch norm is frozen
    (``FrozenBatchNorm2d``) and ``trainable_backbone_layers`` defaults to 3; without, plain ``BatchNorm2d`` and all
    layers train. ``progress`` is accepted for compatibility (nothing is downloaded).
    """
    state_dict = None
    if weights is not None:
        weights_backbone = None
        state_dict = load_state_dict_file(weights)  # read once: it gives the class count, then the weights
        if num_classes is None:
            num_classes = num_classes_in_state_dict(state_dict)
    if num_classes is None:
        num_classes = COCO_NUM_CLASSES
    is_trained = weights is not None or weights_backbone is not None
    trainable = trainable_layers_for(is_trained, trainable_backbone_layers)
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    backbone = resnet_fpn_extractor(resnet50(weights=weights_backbone, norm_layer=norm_layer), trainable)
    model = MaskRCNN(backbone, num_classes=num_classes, **kwargs)
    if state_dict is not None:
        load_state_dict_into(model, state_dict, weights, DETECTOR_CLASS_SPECIFIC)
        if is_coco_v1_maskrcnn_file(weights):
            set_frozen_batch_norm_eps(model, 0.0)
    return model
