"""How a training run builds its model, saved in every checkpoint so evaluation and prediction rebuild the same one.

A torchvision checkpoint file carries no such record: it is taken to be torchvision's Mask R-CNN ResNet-50-FPN with
its defaults, the class count read from the file.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

from torch import nn

from ..backbone.backbone_with_fpn import resnet_fpn_extractor
from ..backbone import resnet as resnet_module
from ..builders import maskrcnn_resnet50_fpn, trainable_layers_for
from ..faster_rcnn import BOX_POOL_SIZE
from ..mask_rcnn import MASK_HEAD_LAYERS, MaskRCNN
from ..roi_heads import FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor, TwoMLPHead
from ..ops.frozen_batch_norm import FrozenBatchNorm2d

BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


@dataclass
class ModelConfig:
    """Constructor arguments of the detector; the defaults are torchvision's ``maskrcnn_resnet50_fpn``."""
    num_classes: int = 91
    backbone: str = "resnet50"
    min_size: int = 800
    max_size: int = 1333
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_test: int = 1000
    box_batch_size_per_image: int = 512
    box_detections_per_img: int = 100
    trainable_backbone_layers: Optional[int] = None
    #: Widths of the FPN levels, the box head's two fully connected layers and the mask head's four convolutions.
    #: Narrower than torchvision's 256 / 1024 / 256 only for small problems (the built-in shapes demo).
    fpn_channels: int = 256
    box_representation_size: int = 1024
    mask_head_channels: int = 256

    def has_torchvision_heads(self) -> bool:
        return (self.fpn_channels, self.box_representation_size, self.mask_head_channels) == (256, 1024, 256)

    def detector_kwargs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "min_size", "max_size", "rpn_pre_nms_top_n_train", "rpn_post_nms_top_n_train", "rpn_pre_nms_top_n_test",
            "rpn_post_nms_top_n_test", "box_batch_size_per_image", "box_detections_per_img")}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def build_model(config: ModelConfig, weights: Optional[str | os.PathLike] = None,
                weights_backbone: Optional[str | os.PathLike] = None) -> MaskRCNN:
    """The detector of ``config``; ``weights`` a Mask R-CNN file (ResNet-50 only, as torchvision publishes),
    ``weights_backbone`` an ImageNet ResNet file of the configured depth."""
    if config.backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {config.backbone!r}")
    if config.backbone == "resnet50" and config.has_torchvision_heads():
        return maskrcnn_resnet50_fpn(weights=weights, weights_backbone=weights_backbone,
                                     num_classes=config.num_classes,
                                     trainable_backbone_layers=config.trainable_backbone_layers,
                                     **config.detector_kwargs())
    if weights is not None:
        raise ValueError(f"--weights takes a Mask R-CNN ResNet-50 file (torchvision's head widths); with backbone "
                         f"{config.backbone} use "
                         f"--weights-backbone (an ImageNet {config.backbone} file) or --resume")
    is_trained = weights_backbone is not None
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    resnet = getattr(resnet_module, config.backbone)(weights=weights_backbone, norm_layer=norm_layer)
    trainable = trainable_layers_for(is_trained, config.trainable_backbone_layers)
    backbone = resnet_fpn_extractor(resnet, trainable, out_channels=config.fpn_channels)
    heads = head_modules(config)  # with its own predictors, MaskRCNN takes no num_classes
    return MaskRCNN(backbone, num_classes=None if heads else config.num_classes, **config.detector_kwargs(), **heads)


def head_modules(config: ModelConfig) -> dict[str, nn.Module]:
    """Box and mask heads of the configured widths, passed to MaskRCNN by constructor injection (none: its defaults)."""
    if config.has_torchvision_heads():
        return {}
    pooled = config.fpn_channels * BOX_POOL_SIZE * BOX_POOL_SIZE
    mask_layers = (config.mask_head_channels,) * len(MASK_HEAD_LAYERS)
    return {"box_head": TwoMLPHead(pooled, config.box_representation_size),
            "box_predictor": FastRCNNPredictor(config.box_representation_size, config.num_classes),
            "mask_head": MaskRCNNHeads(config.fpn_channels, mask_layers, dilation=1),
            "mask_predictor": MaskRCNNPredictor(mask_layers[-1], config.mask_head_channels, config.num_classes)}
