"""Feature extractors: ResNet and MobileNetV3, and the Feature Pyramid Network on top of them."""
from .backbone_with_fpn import (
    BackboneWithFPN,
    IntermediateLayerGetter,
    resnet_fpn_backbone,
    resnet_fpn_extractor,
    validate_trainable_layers,
)
from .fpn import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool
from .mobilenet_fpn import mobilenet_backbone, mobilenet_extractor
from .mobilenet_v3 import (
    InvertedResidual,
    InvertedResidualConfig,
    MobileNetV3,
    SqueezeExcitation,
    mobilenet_v3_large,
    mobilenet_v3_small,
)
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152

__all__ = ["BackboneWithFPN", "BasicBlock", "Bottleneck", "ExtraFPNBlock", "FeaturePyramidNetwork",
           "IntermediateLayerGetter", "InvertedResidual", "InvertedResidualConfig", "LastLevelMaxPool", "MobileNetV3",
           "ResNet", "SqueezeExcitation", "mobilenet_backbone", "mobilenet_extractor", "mobilenet_v3_large",
           "mobilenet_v3_small", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50", "resnet_fpn_backbone",
           "resnet_fpn_extractor", "validate_trainable_layers"]
