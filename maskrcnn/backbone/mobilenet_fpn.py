"""A MobileNet's ``features`` as a detection backbone: with an FPN on its last stages, or one 1x1 projection.

Stages are cut where a block halves the resolution (``_is_cn``): stage 0 is the stem, the last stage ends with the
final 1x1 convolution. ``trainable_layers = k`` trains from the start of the k-th stage from the end (0: nothing,
all of them: everything). With an FPN the default returns the last two stages (strides 16 and 32 for
MobileNetV3-Large) as levels "0", "1", plus "pool" from ``LastLevelMaxPool``.
"""
from __future__ import annotations

from typing import Callable, Optional

from torch import nn

from ..ops.frozen_batch_norm import FrozenBatchNorm2d
from ..weights import BACKBONE_WEIGHTS, WeightsArg, legacy_interface
from . import mobilenet_v3 as mobilenet_module
from .backbone_with_fpn import BackboneWithFPN
from .fpn import ExtraFPNBlock, LastLevelMaxPool

MOBILENET_NAMES = ("mobilenet_v3_large", "mobilenet_v3_small")
FPN_CHANNELS = 256


def stage_starts(features: nn.Sequential) -> list[int]:
    """Indices into ``features`` where each stage begins: the stem, every strided block, and the final conv."""
    return [0] + [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)] + [len(features) - 1]


def mobilenet_extractor(backbone: mobilenet_module.MobileNetV3, fpn: bool, trainable_layers: int,
                        returned_layers: Optional[list[int]] = None, extra_blocks: Optional[ExtraFPNBlock] = None,
                        norm_layer: Optional[Callable[..., nn.Module]] = None,
                        out_channels: int = FPN_CHANNELS) -> nn.Module:
    """Wraps an existing MobileNet: freezes the blocks before the last ``trainable_layers`` stages and returns the
    ``returned_layers`` stages through an FPN ``out_channels`` wide (torchvision's is always 256), or without
    ``fpn`` the last feature map projected to ``out_channels`` by a 1x1 convolution."""
    features = backbone.features
    starts = stage_starts(features)
    num_stages = len(starts)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(f"Trainable layers should be in the range [0,{num_stages}], got {trainable_layers} ")
    freeze_before = len(features) if trainable_layers == 0 else starts[num_stages - trainable_layers]
    for block in features[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
    if not fpn:
        projected = nn.Sequential(features, nn.Conv2d(features[-1].out_channels, out_channels, 1))
        projected.out_channels = out_channels
        return projected
    returned_layers = returned_layers if returned_layers is not None else [num_stages - 2, num_stages - 1]
    if min(returned_layers) < 0 or max(returned_layers) >= num_stages:
        raise ValueError(f"Each returned layer should be in the range [0,{num_stages - 1}], got {returned_layers} ")
    return_layers = {f"{starts[k]}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_list = [features[starts[i]].out_channels for i in returned_layers]
    return BackboneWithFPN(features, return_layers, in_channels_list, out_channels,
                           extra_blocks=extra_blocks if extra_blocks is not None else LastLevelMaxPool(),
                           norm_layer=norm_layer)


@legacy_interface(weights=("pretrained", lambda kwargs: BACKBONE_WEIGHTS[kwargs["backbone_name"]].IMAGENET1K_V1))
def mobilenet_backbone(*, backbone_name: str, weights: WeightsArg, fpn: bool,
                       norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d, trainable_layers: int = 2,
                       returned_layers: Optional[list[int]] = None,
                       extra_blocks: Optional[ExtraFPNBlock] = None) -> nn.Module:
    """Builds ``mobilenet_v3_large`` / ``mobilenet_v3_small`` (``weights``: its ImageNet weights enum or name, a
    checkpoint file, or None) as a detection backbone (see :func:`mobilenet_extractor`)."""
    if backbone_name not in MOBILENET_NAMES:
        raise ValueError(f"backbone_name must be one of {', '.join(MOBILENET_NAMES)}, got {backbone_name!r}")
    backbone = getattr(mobilenet_module, backbone_name)(weights=weights, norm_layer=norm_layer)
    return mobilenet_extractor(backbone, fpn, trainable_layers, returned_layers, extra_blocks)
