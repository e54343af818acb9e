"""Feature Pyramid Network (Lin et al. 2017): top-down pathway with lateral 1x1 connections.

Each input level gets a 1x1 "inner" conv to ``out_channels``; from the coarsest level down, the running map is
upsampled (nearest, to the finer level's exact size) and added to the next lateral; each sum then goes through a
3x3 "layer" conv. ``LastLevelMaxPool`` adds a "pool" level: the coarsest output subsampled by 2 (kernel 1).
Key layout ``inner_blocks.i.0.weight`` is torchvision's v2; v1 checkpoints (``inner_blocks.i.weight``) are renamed
on load.
"""

from collections import OrderedDict
from typing import Callable, Optional

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import feature_pyramid_network as tv_fpn

from ..legacy_keys import rename_legacy_keys
from ..ops.conv_norm_act import Conv2dNormActivation


class ExtraFPNBlock(tv_fpn.ExtraFPNBlock):
    """Base of blocks that append levels after the top-down pass: ``(results, inputs, names) -> (results, names)``.
    A subclass of torchvision's base, so that torchvision's blocks (``LastLevelP6P7``) and ours are interchangeable."""

    def forward(self, results: list[Tensor], x: list[Tensor], names: list[str]) -> tuple[list[Tensor], list[str]]:
        raise NotImplementedError


class LastLevelMaxPool(ExtraFPNBlock):
    """Appends level "pool": ``max_pool2d(kernel 1, stride 2)`` of the last output (P6 of the paper)."""

    def forward(self, results: list[Tensor], x: list[Tensor], names: list[str]) -> tuple[list[Tensor], list[str]]:
        return results + [F.max_pool2d(results[-1], kernel_size=1, stride=2, padding=0)], names + ["pool"]


class FeaturePyramidNetwork(tv_fpn.FeaturePyramidNetwork):
    """A subclass of torchvision's class for its type alone (our code builds and runs it), so that torchvision's FX
    feature extraction keeps it one node (``fpn``), as it keeps its own."""

    _version = 2

    def __init__(self, in_channels_list: list[int], out_channels: int, extra_blocks: Optional[ExtraFPNBlock] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        nn.Module.__init__(self)
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("in_channels=0 is currently not supported")
            self.inner_blocks.append(Conv2dNormActivation(in_channels, out_channels, kernel_size=1, padding=0,
                                                          norm_layer=norm_layer, activation_layer=None))
            self.layer_blocks.append(Conv2dNormActivation(out_channels, out_channels, kernel_size=3,
                                                          norm_layer=norm_layer, activation_layer=None))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        if extra_blocks is not None and not isinstance(extra_blocks, tv_fpn.ExtraFPNBlock):
            raise TypeError(f"extra_blocks should be of type ExtraFPNBlock not {type(extra_blocks)}")
        self.extra_blocks = extra_blocks

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        rename_legacy_keys(state_dict, prefix, local_metadata,
                           [(f"{block}.{i}.{kind}", f"{block}.{i}.0.{kind}")
                            for block in ("inner_blocks", "layer_blocks")
                            for i in range(len(self.inner_blocks)) for kind in ("weight", "bias")])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def get_result_from_inner_blocks(self, x: Tensor, idx: int) -> Tensor:
        """``inner_blocks[idx](x)``: the lateral 1x1 convolution of level ``idx`` (torchvision's override point).
        Written as a loop because TorchScript cannot index a ModuleList with a variable."""
        idx = idx + len(self.inner_blocks) if idx < 0 else idx
        out = x
        for i, block in enumerate(self.inner_blocks):
            if i == idx:
                out = block(x)
        return out

    def get_result_from_layer_blocks(self, x: Tensor, idx: int) -> Tensor:
        """``layer_blocks[idx](x)``: the output 3x3 convolution of level ``idx`` (torchvision's override point)."""
        idx = idx + len(self.layer_blocks) if idx < 0 else idx
        out = x
        for i, block in enumerate(self.layer_blocks):
            if i == idx:
                out = block(x)
        return out

    def merge_top_down(self, feature: Tensor, last_inner: Tensor, idx: int) -> Tensor:
        """Level ``idx``'s lateral 1x1 convolution plus the coarser running map upsampled (nearest) to its size."""
        inner_lateral = self.get_result_from_inner_blocks(feature, idx)
        return inner_lateral + F.interpolate(last_inner, size=inner_lateral.shape[-2:], mode="nearest")

    def forward(self, x: dict[str, Tensor]) -> dict[str, Tensor]:
        names = list(x.keys())
        features = list(x.values())
        last_inner = self.get_result_from_inner_blocks(features[-1], -1)
        results = [self.get_result_from_layer_blocks(last_inner, -1)]
        for idx in range(len(features) - 2, -1, -1):
            last_inner = self.merge_top_down(features[idx], last_inner, idx)
            results.insert(0, self.get_result_from_layer_blocks(last_inner, idx))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, features, names)
        out: dict[str, Tensor] = OrderedDict()
        for name, result in zip(names, results):
            out[name] = result
        return out
