"""Batch norm with fixed statistics and affine parameters, as used under pretrained detection backbones."""

import torch
import torchvision
from torch import Tensor, nn


class FrozenBatchNorm2d(torchvision.ops.FrozenBatchNorm2d):
    """``y = x * scale + (bias - running_mean * scale)`` with ``scale = weight * rsqrt(running_var + eps)``.

    Every tensor is a buffer (nothing trains). ``num_batches_tracked`` in a checkpoint is ignored, so plain
    ``BatchNorm2d`` weights load as they are. The v1 COCO Mask R-CNN checkpoint was trained with ``eps = 0``.

    A subclass of torchvision's class for its type alone (our code builds and runs it): torchvision's tools then treat
    it as their own, e.g. ``create_feature_extractor`` keeps it one node and ``overwrite_eps`` finds it.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        nn.Module.__init__(self)
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def scale_and_shift(self) -> tuple[Tensor, Tensor]:
        """Per-channel ``(scale, shift)`` such that the layer computes ``x * scale + shift``."""
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        return scale, self.bias - self.running_mean * scale

    def forward(self, x: Tensor) -> Tensor:
        scale, shift = self.scale_and_shift()
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.weight.shape[0]}, eps={self.eps})"
