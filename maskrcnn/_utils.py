"""torchvision's module path ``models.detection._utils``: the box coder, matcher and sampler, under their names."""
from .box_coder import BoxCoder
from .checkpoint import set_frozen_batch_norm_eps as overwrite_eps
from .matcher import Matcher
from .sampling import BalancedPositiveNegativeSampler

__all__ = ["BalancedPositiveNegativeSampler", "BoxCoder", "Matcher", "overwrite_eps"]
