"""The explicit optimisation step: ``maskrcnn.optimize(model)`` and its inverse ``maskrcnn.deoptimize(model)``.

``optimize`` walks the model and gives each standard block it recognises the class of its fast form (a subclass
that differs only in ``forward``; see :mod:`.layers` and :mod:`.pooler`). Nothing else changes: the same module
objects, parameters, buffers and ``state_dict`` keys, so an optimizer built before or after, a checkpoint written
from either form and ``DistributedDataParallel`` wrapped afterwards all work. A block of another type (a user's
module, a subclass, a GELU or GroupNorm variant) or with a hook on it is left as it is. ``deoptimize`` gives every
fast block its plain class back.
"""
from __future__ import annotations

from torch import nn

from ..backbone.backbone_with_fpn import IntermediateLayerGetter
from ..backbone.fpn import FeaturePyramidNetwork
from ..backbone.resnet import BasicBlock, Bottleneck
from ..ops.conv_norm_act import Conv2dNormActivation
from ..poolers import MultiScaleRoIAlign
from ..roi_heads.keypoint_head import KeypointRCNNHeads
from .layers import (
    FusedBasicBlock,
    FusedBottleneck,
    FusedConv2dNormActivation,
    FusedFeaturePyramidNetwork,
    FusedIntermediateLayerGetter,
    FusedKeypointRCNNHeads,
)
from .pooler import GatherMultiScaleRoIAlign

#: Plain class -> its fast form. Only modules whose type is exactly the key are considered.
FAST_FORMS: dict[type, type] = {
    BasicBlock: FusedBasicBlock,
    Bottleneck: FusedBottleneck,
    Conv2dNormActivation: FusedConv2dNormActivation,
    IntermediateLayerGetter: FusedIntermediateLayerGetter,
    FeaturePyramidNetwork: FusedFeaturePyramidNetwork,
    KeypointRCNNHeads: FusedKeypointRCNNHeads,
    MultiScaleRoIAlign: GatherMultiScaleRoIAlign,
}
PLAIN_FORMS: dict[type, type] = {fast: plain for plain, fast in FAST_FORMS.items()}


def optimize(model: nn.Module) -> nn.Module:
    """Turns ``model`` (in place) into its fast form and returns it; its outputs stay equal up to float rounding."""
    for module in model.modules():
        fast = FAST_FORMS.get(type(module))
        if fast is not None and fast.recognises(module):
            module.__class__ = fast
    return model


def deoptimize(model: nn.Module) -> nn.Module:
    """Undoes :func:`optimize` (in place): every fast block gets its plain class back. Returns ``model``."""
    for module in model.modules():
        plain = PLAIN_FORMS.get(type(module))
        if plain is not None:
            module.__class__ = plain
    return model


def optimized_modules(model: nn.Module) -> list[str]:
    """Names of the modules that run in a fast form."""
    return [name for name, module in model.named_modules() if type(module) in PLAIN_FORMS]
