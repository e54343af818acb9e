"""RPN head: a shared 3x3 conv + ReLU, then per anchor one objectness logit and four box deltas."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..legacy_keys import rename_legacy_keys
from ..ops.conv_norm_act import Conv2dNormActivation


class RPNHead(nn.Module):
    """Keys ``conv.0.0.*`` (torchvision v2); v1 checkpoints' ``conv.*`` are renamed on load. Weights ~ N(0, 0.01)."""

    _version = 2

    def __init__(self, in_channels: int, num_anchors: int, conv_depth: int = 1) -> None:
        super().__init__()
        self.conv = nn.Sequential(*[Conv2dNormActivation(in_channels, in_channels, kernel_size=3, norm_layer=None)
                                    for _ in range(conv_depth)])
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, kernel_size=1, stride=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1, stride=1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                torch.nn.init.normal_(layer.weight, std=0.01)
                if layer.bias is not None:
                    torch.nn.init.constant_(layer.bias, 0)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        rename_legacy_keys(state_dict, prefix, local_metadata,
                           [(f"conv.{kind}", f"conv.0.0.{kind}") for kind in ("weight", "bias")])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def forward(self, x: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Per level: objectness ``[N, A, H, W]`` and deltas ``[N, 4A, H, W]``."""
        logits, bbox_reg = [], []
        for feature in x:
            t = self.conv(feature)
            logits.append(self.cls_logits(t))
            bbox_reg.append(self.bbox_pred(t))
        return logits, bbox_reg
