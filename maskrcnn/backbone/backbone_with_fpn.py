"""A ResNet body with an FPN on top: the detector's feature extractor.

``body`` keeps the ResNet's modules up to the last returned stage (the classifier is dropped) and returns the
stages named in ``return_layers``; ``fpn`` turns them into levels "0".."3" plus "pool", each ``out_channels`` wide.
With ``trainable_layers = k`` only the last k of (layer4, layer3, layer2, layer1, conv1) train; 5 also trains bn1.
"""

import warnings
from collections import OrderedDict
from typing import Callable, Optional

from torch import Tensor, nn

from ..ops.frozen_batch_norm import FrozenBatchNorm2d
from ..weights import BACKBONE_WEIGHTS, WeightsArg, legacy_interface
from . import resnet as resnet_module
from .fpn import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool

RESNET_STAGES = ("layer4", "layer3", "layer2", "layer1", "conv1")
RESNET_NAMES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


class IntermediateLayerGetter(nn.ModuleDict):
    """Runs a model's children in order and returns the outputs of ``return_layers`` (child name -> output name)."""

    def __init__(self, model: nn.Module, return_layers: dict[str, str]) -> None:
        if not set(return_layers).issubset(name for name, _ in model.named_children()):
            raise ValueError(f"return_layers {sorted(return_layers)} are not all children of the model")
        remaining = dict(return_layers)
        layers = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            remaining.pop(name, None)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = dict(return_layers)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class BackboneWithFPN(nn.Module):
    def __init__(self, backbone: nn.Module, return_layers: dict[str, str], in_channels_list: list[int],
                 out_channels: int, extra_blocks: Optional[ExtraFPNBlock] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        self.body = IntermediateLayerGetter(backbone, return_layers=return_layers)
        self.fpn = FeaturePyramidNetwork(in_channels_list, out_channels,
                                         extra_blocks=extra_blocks if extra_blocks is not None else LastLevelMaxPool(),
                                         norm_layer=norm_layer)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.fpn(self.body(x))


def freeze_resnet_layers(backbone: nn.Module, trainable_layers: int) -> None:
    """Sets ``requires_grad=False`` on every parameter outside the last ``trainable_layers`` stages."""
    if not 0 <= trainable_layers <= 5:
        raise ValueError(f"Trainable layers should be in the range [0,5], got {trainable_layers}")
    layers_to_train = list(RESNET_STAGES[:trainable_layers]) + (["bn1"] if trainable_layers == 5 else [])
    for name, parameter in backbone.named_parameters():
        if not any(name.startswith(layer) for layer in layers_to_train):
            parameter.requires_grad_(False)


def resnet_fpn_extractor(backbone: resnet_module.ResNet, trainable_layers: int,
                         returned_layers: Optional[list[int]] = None, extra_blocks: Optional[ExtraFPNBlock] = None,
                         norm_layer: Optional[Callable[..., nn.Module]] = None,
                         out_channels: int = 256) -> BackboneWithFPN:
    """Wraps an existing ResNet: freezes early stages, returns stages ``returned_layers`` (1..4) through an FPN
    ``out_channels`` wide (torchvision's is always 256)."""
    freeze_resnet_layers(backbone, trainable_layers)
    returned_layers = returned_layers or [1, 2, 3, 4]
    if min(returned_layers) <= 0 or max(returned_layers) >= 5:
        raise ValueError(f"Each returned layer should be in the range [1,4]. Got {returned_layers}")
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_stage2 = backbone.inplanes // 8  # width of layer1's output
    in_channels_list = [in_channels_stage2 * 2 ** (i - 1) for i in returned_layers]
    return BackboneWithFPN(backbone, return_layers, in_channels_list, out_channels, extra_blocks=extra_blocks,
                           norm_layer=norm_layer)


def validate_trainable_layers(is_trained: bool, trainable_backbone_layers: Optional[int], max_value: int,
                              default_value: int) -> int:
    """torchvision's rule: from scratch every stage trains (``max_value``; a given value is ignored with a warning);
    from pretrained weights ``default_value`` unless given, which must lie in ``[0, max_value]``."""
    if not is_trained:
        if trainable_backbone_layers is not None:
            warnings.warn("Changing trainable_backbone_layers has no effect if neither pretrained nor "
                          "pretrained_backbone have been set to True, falling back to "
                          f"trainable_backbone_layers={max_value} so that all layers are trainable")
        trainable_backbone_layers = max_value
    if trainable_backbone_layers is None:
        trainable_backbone_layers = default_value
    if not 0 <= trainable_backbone_layers <= max_value:
        raise ValueError(f"Trainable backbone layers should be in the range [0,{max_value}], "
                         f"got {trainable_backbone_layers} ")
    return trainable_backbone_layers


@legacy_interface(weights=("pretrained", lambda kwargs: BACKBONE_WEIGHTS[kwargs["backbone_name"]].IMAGENET1K_V1))
def resnet_fpn_backbone(*, backbone_name: str, weights: WeightsArg,
                        norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d, trainable_layers: int = 3,
                        returned_layers: Optional[list[int]] = None,
                        extra_blocks: Optional[ExtraFPNBlock] = None) -> BackboneWithFPN:
    """Builds ``resnet{18,34,50,101,152}`` (``weights``: its ImageNet weights enum or name, a checkpoint file, or
    None) with an FPN. Positional arguments and ``pretrained=`` work with torchvision's deprecation warnings."""
    builders = {name: getattr(resnet_module, name) for name in RESNET_NAMES}
    if backbone_name not in builders:
        raise ValueError(f"backbone_name must be one of {sorted(builders)}, got {backbone_name!r}")
    backbone = builders[backbone_name](weights=weights, norm_layer=norm_layer)
    return resnet_fpn_extractor(backbone, trainable_layers, returned_layers, extra_blocks)
