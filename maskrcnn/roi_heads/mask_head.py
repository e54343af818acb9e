"""Mask branch modules: four 3x3 conv + ReLU layers, then a 2x upsampling predictor giving 28 x 28 logits per class."""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Optional, Sequence

from torch import Tensor, nn

from ..legacy_keys import rename_legacy_keys
from ..ops.conv_norm_act import Conv2dNormActivation
from .conv_init import init_head_convs
from .mask_loss import maskrcnn_loss


class MaskRCNNHeads(nn.Sequential):
    """Keys ``{i}.0.weight`` (torchvision v2); v1 checkpoints' ``mask_fcn{i+1}.*`` are renamed on load."""

    _version = 2

    def __init__(self, in_channels: int, layers: Sequence[int], dilation: int,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        blocks, previous = [], in_channels
        for width in layers:
            blocks.append(Conv2dNormActivation(previous, width, kernel_size=3, stride=1, dilation=dilation,
                                               norm_layer=norm_layer))
            previous = width
        super().__init__(*blocks)
        init_head_convs(self)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        rename_legacy_keys(state_dict, prefix, local_metadata,
                           [(f"mask_fcn{i + 1}.{kind}", f"{i}.0.{kind}") for i in range(len(self))
                            for kind in ("weight", "bias")])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class MaskRCNNPredictor(nn.Sequential):
    """ConvTranspose 2x2 stride 2 + ReLU (14 -> 28), then a 1x1 conv to one logit map per class.

    It owns the mask loss: ``RoIHeads`` calls :meth:`losses` in training, so a subclass overriding it replaces it
    (e.g. a Dice loss).
    """

    def __init__(self, in_channels: int, dim_reduced: int, num_classes: int) -> None:
        super().__init__(OrderedDict([
            ("conv5_mask", nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)),
            ("relu", nn.ReLU(inplace=True)),
            ("mask_fcn_logits", nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)),
        ]))
        for name, param in self.named_parameters():
            if "weight" in name:
                nn.init.kaiming_normal_(param, mode="fan_out", nonlinearity="relu")

    def losses(self, mask_logits: Tensor, proposals: list[Tensor], gt_masks: list[Tensor], gt_labels: list[Tensor],
               mask_matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        """``{"loss_mask"}`` of the foreground RoIs (:func:`maskrcnn_loss`)."""
        return {"loss_mask": maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs)}
