"""torchvision's module path ``models.detection.anchor_utils``."""
from .rpn.anchor_generator import AnchorGenerator

__all__ = ["AnchorGenerator"]
