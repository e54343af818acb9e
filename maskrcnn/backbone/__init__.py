"""Feature extractors: ResNet and the Feature Pyramid Network on top of it."""
from .backbone_with_fpn import BackboneWithFPN, IntermediateLayerGetter, resnet_fpn_backbone, resnet_fpn_extractor
from .fpn import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
