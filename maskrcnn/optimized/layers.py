"""The fast forms of the backbone's standard blocks: same children, same parameters, folded and fused arithmetic.

Each class subclasses the plain one and only replaces ``forward``: batch norm with fixed statistics folded into its
convolution, the residual sum and ReLU fused into it (one oneDNN kernel at CPU inference), channels-last on CPU
(:func:`maskrcnn.ops.fused_conv.conv_norm_relu`). Where a block no longer has its standard form when called (a layer
swapped, a hook added), it runs its plain ``forward``. Results equal the plain module's up to float rounding.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from ..backbone.backbone_with_fpn import IntermediateLayerGetter
from ..backbone.fpn import FeaturePyramidNetwork
from ..backbone.resnet import BasicBlock, Bottleneck
from ..ops.conv_norm_act import Conv2dNormActivation
from ..ops.fused_conv import conv_norm_act, conv_norm_relu
from ..roi_heads.keypoint_head import KeypointRCNNHeads
from .patterns import conv_norm_act_parts, is_conv, is_conv_norm, is_foldable_norm, is_relu, unhooked


def standard_shortcut(downsample) -> bool:
    return downsample is None or is_conv_norm(downsample)


def shortcut(x: Tensor, downsample) -> Tensor:
    return x if downsample is None else conv_norm_relu(x, downsample[0], downsample[1], relu=False)


class FusedBasicBlock(BasicBlock):
    @staticmethod
    def recognises(block: BasicBlock) -> bool:
        return (is_conv(block.conv1) and is_foldable_norm(block.bn1) and is_conv(block.conv2)
                and is_foldable_norm(block.bn2) and is_relu(block.relu) and standard_shortcut(block.downsample))

    def forward(self, x: Tensor) -> Tensor:
        if not self.recognises(self):
            return super().forward(x)
        identity = shortcut(x, self.downsample)
        out = conv_norm_relu(x, self.conv1, self.bn1)
        return conv_norm_relu(out, self.conv2, self.bn2, residual=identity)


class FusedBottleneck(Bottleneck):
    @staticmethod
    def recognises(block: Bottleneck) -> bool:
        return (all(is_conv(c) for c in (block.conv1, block.conv2, block.conv3))
                and all(is_foldable_norm(n) for n in (block.bn1, block.bn2, block.bn3))
                and is_relu(block.relu) and standard_shortcut(block.downsample))

    def forward(self, x: Tensor) -> Tensor:
        if not self.recognises(self):
            return super().forward(x)
        identity = shortcut(x, self.downsample)
        out = conv_norm_relu(x, self.conv1, self.bn1)
        out = conv_norm_relu(out, self.conv2, self.bn2)
        return conv_norm_relu(out, self.conv3, self.bn3, residual=identity)


class FusedConv2dNormActivation(Conv2dNormActivation):
    """``[Conv2d, batch norm?, ReLU or Hardswish?]`` as one folded, fused convolution (FPN, RPN head and mask head
    blocks, MobileNet's layers)."""

    @staticmethod
    def recognises(block: Conv2dNormActivation) -> bool:
        return conv_norm_act_parts(block) is not None

    def forward(self, x: Tensor) -> Tensor:
        parts = conv_norm_act_parts(self)
        if parts is None:
            return super().forward(x)
        conv, norm, activation = parts
        return conv_norm_act(x, conv, norm, activation)


class FusedKeypointRCNNHeads(KeypointRCNNHeads):
    """The keypoint head's ``Conv2d, ReLU`` pairs, each as one fused convolution."""

    @staticmethod
    def recognises(head: KeypointRCNNHeads) -> bool:
        return FusedKeypointRCNNHeads._pairs(head) is not None

    @staticmethod
    def _pairs(head: nn.Module) -> Optional[list[nn.Conv2d]]:
        """The convolutions, when the children are exactly unhooked ``Conv2d, ReLU`` pairs."""
        children = list(head)
        if not unhooked(head) or not children or len(children) % 2:
            return None
        convs, relus = children[0::2], children[1::2]
        if all(is_conv(c) for c in convs) and all(is_relu(r) for r in relus):
            return convs
        return None

    def forward(self, x: Tensor) -> Tensor:
        convs = self._pairs(self)
        if convs is None:
            return super().forward(x)
        for conv in convs:
            x = conv_norm_act(x, conv, None, "relu")
        return x


class FusedIntermediateLayerGetter(IntermediateLayerGetter):
    """Runs a ResNet's ``conv1, bn1, relu`` stem as one fused convolution; the other children as they are."""

    @staticmethod
    def recognises(getter: IntermediateLayerGetter) -> bool:
        return any(FusedIntermediateLayerGetter._stem_at(list(getter.items()), i, getter.return_layers)
                   for i in range(len(getter)))

    @staticmethod
    def _stem_at(children: list, i: int, return_layers: dict[str, str]) -> bool:
        """Children i, i+1, i+2 are conv, foldable norm, ReLU, and neither of the first two is a returned output."""
        triple = children[i:i + 3]
        return (len(triple) == 3 and is_conv(triple[0][1]) and is_foldable_norm(triple[1][1])
                and is_relu(triple[2][1]) and not return_layers.keys() & {triple[0][0], triple[1][0]})

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = OrderedDict()
        children = list(self.items())
        i = 0
        while i < len(children):
            name, module = children[i]
            if self._stem_at(children, i, self.return_layers):
                x = conv_norm_relu(x, module, children[i + 1][1])
                i += 2
                name = children[i][0]
            else:
                x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
            i += 1
        return out


class FusedFeaturePyramidNetwork(FeaturePyramidNetwork):
    """The top-down sum rides on each lateral 1x1 convolution as its fused residual input."""

    @staticmethod
    def recognises(fpn: FeaturePyramidNetwork) -> bool:
        return any(FusedFeaturePyramidNetwork._lateral_parts(block) is not None for block in fpn.inner_blocks)

    @staticmethod
    def _lateral_parts(block):
        parts = conv_norm_act_parts(block) if isinstance(block, Conv2dNormActivation) and unhooked(block) else None
        # a lateral is a 1x1 convolution (its output has the input's size) without activation
        standard = parts is not None and not parts[2] and parts[0].kernel_size == (1, 1) and parts[0].stride == (1, 1)
        return parts if standard else None

    def merge_top_down(self, feature: Tensor, last_inner: Tensor, idx: int) -> Tensor:
        parts = self._lateral_parts(self.inner_blocks[idx])
        if parts is None:
            return super().merge_top_down(feature, last_inner, idx)
        top_down = F.interpolate(last_inner, size=feature.shape[-2:], mode="nearest")
        return conv_norm_relu(feature, parts[0], parts[1], relu=False, residual=top_down)
