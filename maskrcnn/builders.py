"""Builder functions with torchvision's signatures; weights are file paths (nothing is downloaded).

:func:`resnet_fpn_detector` is the one builder: any ResNet depth, with or without masks, torchvision's head widths
or narrower ones. ``maskrcnn_resnet50_fpn`` and ``fasterrcnn_resnet50_fpn`` are it with torchvision's names.
"""
from __future__ import annotations

import os
import warnings
from typing import Optional, Union

from torch import nn

from .backbone import resnet as resnet_module
from .backbone.backbone_with_fpn import resnet_fpn_extractor
from .checkpoint import (DETECTOR_CLASS_SPECIFIC, is_coco_v1_file, load_state_dict_file, load_state_dict_into,
                         num_classes_in_state_dict, set_frozen_batch_norm_eps)
from .faster_rcnn import BOX_POOL_SIZE, REPRESENTATION_SIZE, FasterRCNN
from .mask_rcnn import MASK_HEAD_LAYERS, MaskRCNN
from .ops.frozen_batch_norm import FrozenBatchNorm2d
from .roi_heads import FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor, TwoMLPHead

PathLike = Union[str, os.PathLike]

#: COCO's 80 categories keep their original ids 1..90 (with gaps), plus background 0.
COCO_NUM_CLASSES = 91
#: Backbone stages trained by default when starting from pretrained weights (layer2..layer4).
DEFAULT_TRAINABLE_BACKBONE_LAYERS = 3
#: The ResNet depths ``resnet_fpn_backbone`` accepts.
BACKBONE_NAMES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
#: torchvision's widths: FPN channels, the box head's representation, the mask head's convolutions.
FPN_CHANNELS, MASK_HEAD_CHANNELS = 256, MASK_HEAD_LAYERS[-1]


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


def narrow_heads(num_classes: int, masks: bool, fpn_channels: int, box_representation_size: int,
                 mask_head_channels: int) -> dict[str, nn.Module]:
    """Box (and mask) heads and predictors of other widths than torchvision's, for constructor injection; empty
    when the widths are torchvision's (the detector then builds its defaults, in torchvision's seeded order)."""
    if (box_representation_size, mask_head_channels) == (REPRESENTATION_SIZE, MASK_HEAD_CHANNELS):
        return {}
    heads: dict[str, nn.Module] = {
        "box_head": TwoMLPHead(fpn_channels * BOX_POOL_SIZE ** 2, box_representation_size),
        "box_predictor": FastRCNNPredictor(box_representation_size, num_classes)}
    if masks:
        layers = (mask_head_channels,) * len(MASK_HEAD_LAYERS)
        heads["mask_head"] = MaskRCNNHeads(fpn_channels, layers, dilation=1)
        heads["mask_predictor"] = MaskRCNNPredictor(layers[-1], mask_head_channels, num_classes)
    return heads


def resnet_fpn_detector(*, backbone_name: str = "resnet50", masks: bool = True, weights: Optional[PathLike] = None,
                        weights_backbone: Optional[PathLike] = None, num_classes: Optional[int] = None,
                        trainable_backbone_layers: Optional[int] = None, fpn_channels: int = FPN_CHANNELS,
                        box_representation_size: int = REPRESENTATION_SIZE,
                        mask_head_channels: int = MASK_HEAD_CHANNELS, **kwargs) -> FasterRCNN:
    """Mask R-CNN (``masks=True``) or Faster R-CNN on a ResNet-FPN backbone of any depth.

    ``weights``: a detector checkpoint file (torchvision's or ours). ``num_classes`` defaults to the file's (or 91);
    a different value keeps every weight but the class-specific predictor layers (fine-tuning).
    ``weights_backbone``: an ImageNet ResNet checkpoint file of that depth. With either, batch norm is frozen
    (``FrozenBatchNorm2d``) and ``trainable_backbone_layers`` defaults to 3; without, plain ``BatchNorm2d`` and all
    layers train. The widths default to torchvision's (256 / 1024 / 256). ``kwargs`` go to the detector.
    """
    if backbone_name not in BACKBONE_NAMES:
        raise ValueError(f"backbone_name must be one of {', '.join(BACKBONE_NAMES)}, got {backbone_name!r}")
    state_dict = None
    if weights is not None:
        weights_backbone = None
        state_dict = load_state_dict_file(weights)  # read once: it gives the class count, then the weights
        if num_classes is None:
            num_classes = num_classes_in_state_dict(state_dict)
    if num_classes is None:
        num_classes = COCO_NUM_CLASSES
    is_trained = weights is not None or weights_backbone is not None
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    resnet = getattr(resnet_module, backbone_name)(weights=weights_backbone, norm_layer=norm_layer)
    backbone = resnet_fpn_extractor(resnet, trainable_layers_for(is_trained, trainable_backbone_layers),
                                    out_channels=fpn_channels)
    heads = narrow_heads(num_classes, masks, fpn_channels, box_representation_size, mask_head_channels)
    detector = MaskRCNN if masks else FasterRCNN
    model = detector(backbone, num_classes=None if heads else num_classes, **heads, **kwargs)
    if state_dict is not None:
        load_state_dict_into(model, state_dict, weights, DETECTOR_CLASS_SPECIFIC)
        if is_coco_v1_file(weights):
            set_frozen_batch_norm_eps(model, 0.0)
    return model


def maskrcnn_resnet50_fpn(*, weights: Optional[PathLike] = None, progress: bool = True,
                          num_classes: Optional[int] = None, weights_backbone: Optional[PathLike] = None,
                          trainable_backbone_layers: Optional[int] = None, **kwargs) -> MaskRCNN:
    """Mask R-CNN with a ResNet-50-FPN backbone, as torchvision builds it (see :func:`resnet_fpn_detector`).
    ``progress`` is accepted for compatibility (nothing is downloaded)."""
    return resnet_fpn_detector(backbone_name="resnet50", masks=True, weights=weights, num_classes=num_classes,
                               weights_backbone=weights_backbone,
                               trainable_backbone_layers=trainable_backbone_layers, **kwargs)


def fasterrcnn_resnet50_fpn(*, weights: Optional[PathLike] = None, progress: bool = True,
                            num_classes: Optional[int] = None, weights_backbone: Optional[PathLike] = None,
                            trainable_backbone_layers: Optional[int] = None, **kwargs) -> FasterRCNN:
    """Faster R-CNN with a ResNet-50-FPN backbone, as torchvision builds it (see :func:`resnet_fpn_detector`)."""
    return resnet_fpn_detector(backbone_name="resnet50", masks=False, weights=weights, num_classes=num_classes,
                               weights_backbone=weights_backbone,
                               trainable_backbone_layers=trainable_backbone_layers, **kwargs)
