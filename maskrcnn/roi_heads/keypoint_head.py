"""Keypoint branch modules (Mask R-CNN paper, section 5): eight 3x3 conv + ReLU layers on 14 x 14 RoI features,
then a stride-2 transposed convolution and a 2x bilinear upsampling to one 56 x 56 heatmap per keypoint."""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from .keypoint_loss import keypointrcnn_loss

#: torchvision's keypoint head: eight convolutions, 512 wide.
KEYPOINT_HEAD_LAYERS = (512,) * 8


class KeypointRCNNHeads(nn.Sequential):
    """Conv 3x3 (padding 1) + ReLU per width of ``layers``; keys ``{2i}.weight`` / ``{2i}.bias`` (torchvision's).
    Weights Kaiming-normal (fan out), biases 0."""

    def __init__(self, in_channels: int, layers: Sequence[int]) -> None:
        blocks: list[nn.Module] = []
        previous = in_channels
        for width in layers:
            blocks += [nn.Conv2d(previous, width, 3, stride=1, padding=1), nn.ReLU(inplace=True)]
            previous = width
        super().__init__(*blocks)
        for module in self.children():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(module.bias, 0)


class KeypointRCNNPredictor(nn.Module):
    """ConvTranspose 4x4 stride 2 (14 -> 28) to one logit map per keypoint, then bilinear 2x (28 -> 56,
    ``align_corners=False``).

    It owns the keypoint loss: ``RoIHeads`` calls :meth:`losses` in training, so a subclass overriding it replaces it.
    """

    #: the transposed convolution's kernel; padding ``kernel // 2 - 1`` makes it exactly double the size
    DECONV_KERNEL = 4

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        kernel = self.DECONV_KERNEL
        self.kps_score_lowres = nn.ConvTranspose2d(in_channels, num_keypoints, kernel, stride=2,
                                                   padding=kernel // 2 - 1)
        nn.init.kaiming_normal_(self.kps_score_lowres.weight, mode="fan_out", nonlinearity="relu")
        nn.init.constant_(self.kps_score_lowres.bias, 0)
        self.up_scale = 2
        self.out_channels = num_keypoints

    def forward(self, x: Tensor) -> Tensor:
        x = self.kps_score_lowres(x)
        return F.interpolate(x, scale_factor=float(self.up_scale), mode="bilinear", align_corners=False,
                             recompute_scale_factor=False)

    def losses(self, keypoint_logits: Tensor, proposals: list[Tensor], gt_keypoints: list[Tensor],
               keypoint_matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        """``{"loss_keypoint"}`` of the foreground RoIs (:func:`keypointrcnn_loss`)."""
        return {"loss_keypoint": keypointrcnn_loss(keypoint_logits, proposals, gt_keypoints, keypoint_matched_idxs)}
