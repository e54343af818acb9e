"""The two-stage detector's forward pass: transform -> backbone -> RPN -> RoI heads -> back to image coordinates."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Union

import torch
from torch import Tensor, nn


def validate_training_targets(targets: Optional[list[dict[str, Tensor]]], num_images: int) -> None:
    if targets is None:
        raise ValueError("targets should not be None when in training mode")
    if len(targets) != num_images:
        raise ValueError(f"got {num_images} images but {len(targets)} targets; give one target dict per image")
    for i, target in enumerate(targets):
        boxes = target.get("boxes")
        if not isinstance(boxes, Tensor):
            raise TypeError(f"Expected target boxes to be of type Tensor, got {type(boxes)} for image {i}.")
        if boxes.dim() != 2 or boxes.shape[-1] != 4:
            raise ValueError(f"Expected target boxes to be a tensor of shape [N, 4], got {tuple(boxes.shape)} "
                             f"for image {i}.")


def check_degenerate_boxes(targets: list[dict[str, Tensor]]) -> None:
    """After resizing, every box must have x2 > x1 and y2 > y1."""
    for i, target in enumerate(targets):
        boxes = target["boxes"]
        degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
        if degenerate.any():
            j = int(torch.where(degenerate)[0][0])
            raise ValueError(f"All bounding boxes should have positive height and width. Found invalid box "
                             f"{boxes[j].tolist()} (box {j}) for target at index {i}.")


class GeneralizedRCNN(nn.Module):
    """Training mode returns the loss dict; eval mode returns per image ``{"boxes", "labels", "scores"[, "masks"]}``
    in the original image's coordinates.

    ``loss_weights`` (ours; torchvision has none) scales named losses in the returned dict, e.g.
    ``{"loss_mask": 2.0}``; losses it does not name keep weight 1. It is a plain attribute, so it can be changed
    between steps.
    """

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: nn.Module, transform: nn.Module,
                 loss_weights: Optional[dict[str, float]] = None) -> None:
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self.loss_weights: dict[str, float] = dict(loss_weights or {})

    def weight_losses(self, losses: dict[str, Tensor]) -> dict[str, Tensor]:
        """``losses`` with each one named in :attr:`loss_weights` multiplied by its weight."""
        unknown = sorted(set(self.loss_weights) - set(losses))
        if losses and unknown:  # inference computes no losses: nothing to check
            raise ValueError(f"loss_weights names {unknown}, which this model does not compute; its losses are "
                             f"{sorted(losses)}")
        return {name: loss * self.loss_weights[name] if name in self.loss_weights else loss
                for name, loss in losses.items()}

    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]
                      ) -> Union[dict[str, Tensor], list[dict[str, Tensor]]]:
        return losses if self.training else detections

    def forward(self, images: list[Tensor], targets: Optional[list[dict[str, Tensor]]] = None
                ) -> Union[dict[str, Tensor], list[dict[str, Tensor]]]:
        if self.training:
            validate_training_targets(targets, len(images))
        image_list, targets = self.transform(images, targets)  # also checks that images are [C, H, W]
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        if targets is not None:
            check_degenerate_boxes(targets)
        features = self.backbone(image_list.tensors)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        proposals, proposal_losses = self.rpn(image_list, features, targets)
        detections, detector_losses = self.roi_heads(features, proposals, image_list.image_sizes, targets)
        detections = self.transform.postprocess(detections, image_list.image_sizes, original_sizes)
        return self.eager_outputs(self.weight_losses({**detector_losses, **proposal_losses}), detections)
