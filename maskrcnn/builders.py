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
from .checkpoint import (DETECTOR_CLASS_SPECIFIC, CheckpointError, is_coco_v1_file, load_state_dict_file,
                         load_state_dict_into, num_classes_in_state_dict, set_frozen_batch_norm_eps)
from .faster_rcnn import BOX_POOL_SIZE, REPRESENTATION_SIZE, FasterRCNN, default_anchor_generator
from .mask_rcnn import MASK_HEAD_LAYERS, MaskRCNN
from .ops.frozen_batch_norm import FrozenBatchNorm2d
from .roi_heads import FastRCNNConvFCHead, FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor, TwoMLPHead
from .rpn import RPNHead

PathLike = Union[str, os.PathLike]

#: COCO's 80 categories keep their original ids 1..90 (with gaps), plus background 0.
COCO_NUM_CLASSES = 91
#: Backbone stages trained by default when starting from pretrained weights (layer2..layer4).
DEFAULT_TRAINABLE_BACKBONE_LAYERS = 3
#: The ResNet depths ``resnet_fpn_backbone`` accepts.
BACKBONE_NAMES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
#: torchvision's widths: FPN channels, the box head's representation, the mask head's convolutions.
FPN_CHANNELS, MASK_HEAD_CHANNELS = 256, MASK_HEAD_LAYERS[-1]
VERSIONS = ("v1", "v2")
#: v2: convolutions of the box head, and of the RPN head.
V2_BOX_CONV_LAYERS = (256, 256, 256, 256)
V2_RPN_CONV_DEPTH = 2
#: A key only each version's state_dict has (their box heads differ).
VERSION_KEYS = {"v1": "roi_heads.box_head.fc6.weight", "v2": "roi_heads.box_head.0.0.weight"}


def state_dict_version(state_dict: dict) -> Optional[str]:
    """"v1" or "v2" for a detector's state_dict, by its box head; None if it has neither."""
    return next((version for version, key in VERSION_KEYS.items() if key in state_dict), None)


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


def v2_heads(num_anchors: int, masks: bool, fpn_channels: int, box_representation_size: int,
             mask_head_channels: int) -> dict[str, nn.Module]:
    """v2's RPN, box and mask heads, built in torchvision's order (seeded models draw the same numbers)."""
    heads: dict[str, nn.Module] = {
        "rpn_head": RPNHead(fpn_channels, num_anchors, conv_depth=V2_RPN_CONV_DEPTH),
        "box_head": FastRCNNConvFCHead((fpn_channels, BOX_POOL_SIZE, BOX_POOL_SIZE), V2_BOX_CONV_LAYERS,
                                       [box_representation_size], norm_layer=nn.BatchNorm2d)}
    if masks:
        heads["mask_head"] = MaskRCNNHeads(fpn_channels, (mask_head_channels,) * len(MASK_HEAD_LAYERS), 1,
                                           norm_layer=nn.BatchNorm2d)
    return heads


def v2_predictors(num_classes: int, masks: bool, box_representation_size: int,
                  mask_head_channels: int) -> dict[str, nn.Module]:
    """Predictors as wide as narrower v2 heads (none for torchvision's widths: the detector builds its defaults);
    the mask predictor first, as the detector would."""
    if (box_representation_size, mask_head_channels) == (REPRESENTATION_SIZE, MASK_HEAD_CHANNELS):
        return {}
    predictors: dict[str, nn.Module] = {}
    if masks:
        predictors["mask_predictor"] = MaskRCNNPredictor(mask_head_channels, mask_head_channels, num_classes)
    predictors["box_predictor"] = FastRCNNPredictor(box_representation_size, num_classes)
    return predictors


def resnet_fpn_detector(*, backbone_name: str = "resnet50", masks: bool = True, version: str = "v1",
                        weights: Optional[PathLike] = None, weights_backbone: Optional[PathLike] = None,
                        num_classes: Optional[int] = None, trainable_backbone_layers: Optional[int] = None,
                        fpn_channels: int = FPN_CHANNELS, box_representation_size: int = REPRESENTATION_SIZE,
                        mask_head_channels: int = MASK_HEAD_CHANNELS, **kwargs) -> FasterRCNN:
    """Mask R-CNN (``masks=True``) or Faster R-CNN on a ResNet-FPN backbone of any depth, v1 or v2.

    ``weights``: a detector checkpoint file (torchvision's or ours) of the same version (a file of the other one is a
    :class:`CheckpointError` saying so). ``num_classes`` defaults to the file's (or 91); a different value keeps every
    weight but the class-specific predictor layers (fine-tuning). ``weights_backbone``: an ImageNet ResNet checkpoint
    file of that depth. With either, ``trainable_backbone_layers`` defaults to 3 and, in v1, batch norm is frozen
    (``FrozenBatchNorm2d``); without, all layers train. The widths default to torchvision's (256 / 1024 / 256; v2's
    box head convolutions are always 256 wide). ``kwargs`` go to the detector.
    """
    if backbone_name not in BACKBONE_NAMES:
        raise ValueError(f"backbone_name must be one of {', '.join(BACKBONE_NAMES)}, got {backbone_name!r}")
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}, got {version!r}")
    state_dict = None
    if weights is not None:
        weights_backbone = None
        state_dict = load_state_dict_file(weights)  # read once: it gives the class count, then the weights
        file_version = state_dict_version(state_dict)
        if file_version is not None and file_version != version:
            name = "maskrcnn" if masks else "fasterrcnn"
            raise CheckpointError(f"{weights} holds a {file_version} detector ({VERSION_KEYS[file_version]}), not a "
                                  f"{version} one: build it with {name}_resnet50_fpn"
                                  f"{'_v2' if file_version == 'v2' else ''} (train.py: --model {file_version})")
        if num_classes is None:
            num_classes = num_classes_in_state_dict(state_dict)
    if num_classes is None:
        num_classes = COCO_NUM_CLASSES
    is_trained = weights is not None or weights_backbone is not None
    frozen = is_trained and version == "v1"
    resnet = getattr(resnet_module, backbone_name)(weights=weights_backbone,
                                                   norm_layer=FrozenBatchNorm2d if frozen else nn.BatchNorm2d)
    backbone = resnet_fpn_extractor(resnet, trainable_layers_for(is_trained, trainable_backbone_layers),
                                    norm_layer=nn.BatchNorm2d if version == "v2" else None, out_channels=fpn_channels)
    detector = MaskRCNN if masks else FasterRCNN
    if version == "v2":
        anchors = default_anchor_generator()
        heads = {"rpn_anchor_generator": anchors,
                 **v2_heads(anchors.num_anchors_per_location()[0], masks, fpn_channels, box_representation_size,
                            mask_head_channels)}
        predictors = v2_predictors(num_classes, masks, box_representation_size, mask_head_channels)
        model = detector(backbone, num_classes=None if predictors else num_classes, **heads, **predictors, **kwargs)
    else:
        heads = narrow_heads(num_classes, masks, fpn_channels, box_representation_size, mask_head_channels)
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


def maskrcnn_resnet50_fpn_v2(*, weights: Optional[PathLike] = None, progress: bool = True,
                             num_classes: Optional[int] = None, weights_backbone: Optional[PathLike] = None,
                             trainable_backbone_layers: Optional[int] = None, **kwargs) -> MaskRCNN:
    """torchvision's v2 Mask R-CNN with a ResNet-50-FPN backbone (47.4 box / 41.8 mask AP on COCO val2017 with
    torchvision's file ``maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth``); see :func:`resnet_fpn_detector`."""
    return resnet_fpn_detector(backbone_name="resnet50", masks=True, version="v2", weights=weights,
                               num_classes=num_classes, weights_backbone=weights_backbone,
                               trainable_backbone_layers=trainable_backbone_layers, **kwargs)


def fasterrcnn_resnet50_fpn_v2(*, weights: Optional[PathLike] = None, progress: bool = True,
                               num_classes: Optional[int] = None, weights_backbone: Optional[PathLike] = None,
                               trainable_backbone_layers: Optional[int] = None, **kwargs) -> FasterRCNN:
    """torchvision's v2 Faster R-CNN with a ResNet-50-FPN backbone; see :func:`resnet_fpn_detector`."""
    return resnet_fpn_detector(backbone_name="resnet50", masks=False, version="v2", weights=weights,
                               num_classes=num_classes, weights_backbone=weights_backbone,
                               trainable_backbone_layers=trainable_backbone_layers, **kwargs)
