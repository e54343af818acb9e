"""torchvision's module path ``models.detection.backbone_utils``, its private helpers included (user code calls
them)."""
from .backbone.backbone_with_fpn import BackboneWithFPN, resnet_fpn_backbone
from .backbone.backbone_with_fpn import resnet_fpn_extractor as _resnet_fpn_extractor
from .backbone.backbone_with_fpn import validate_trainable_layers as _validate_trainable_layers
from .backbone.fpn import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool
from .backbone.mobilenet_fpn import mobilenet_backbone
from .backbone.mobilenet_fpn import mobilenet_extractor as _mobilenet_extractor

__all__ = ["BackboneWithFPN", "ExtraFPNBlock", "FeaturePyramidNetwork", "LastLevelMaxPool", "_mobilenet_extractor",
           "_resnet_fpn_extractor", "_validate_trainable_layers", "mobilenet_backbone", "resnet_fpn_backbone"]
