"""The two-stage detector's forward pass: transform -> backbone -> RPN -> RoI heads -> back to image coordinates."""
from collections import OrderedDict
from typing import Optional, Union

import torch
from torch import Tensor, nn


class TargetError(ValueError, AssertionError):
    """Bad training targets: a ``ValueError`` that names the image and box, and also the ``AssertionError``
    torchvision's ``torch._assert`` raises there, so code (and torchvision's own tests) catching either works."""


class TargetTypeError(TypeError, AssertionError):
    """Target boxes that are not a tensor: a ``TypeError``, and torchvision's ``AssertionError``."""


@torch.jit.unused
def check_boxes_are_tensors(targets: list[dict[str, Tensor]]) -> None:
    for i, target in enumerate(targets):
        boxes = target.get("boxes")
        if not isinstance(boxes, Tensor):
            raise TargetTypeError(f"Expected target boxes to be of type Tensor, got {type(boxes)} for image {i}.")


def validate_training_targets(targets: Optional[list[dict[str, Tensor]]], num_images: int) -> None:
    if targets is None:
        raise TargetError("targets should not be None when in training mode")
    if len(targets) != num_images:
        raise TargetError(f"got {num_images} images but {len(targets)} targets; give one target dict per image")
    if not torch.jit.is_scripting():  # a scripted model's targets are typed: boxes are tensors
        check_boxes_are_tensors(targets)
    for i, target in enumerate(targets):
        if "boxes" not in target:
            raise TargetError(f"Every element of targets should have a boxes key (missing in target {i})")
        boxes = target["boxes"]
        if boxes.dim() != 2 or boxes.shape[-1] != 4:
            raise TargetError(f"Expected target boxes to be a tensor of shape [N, 4], got {list(boxes.shape)} "
                             f"for image {i}.")


def check_degenerate_boxes(targets: list[dict[str, Tensor]]) -> None:
    """After resizing, every box must have x2 > x1 and y2 > y1."""
    for i, target in enumerate(targets):
        boxes = target["boxes"]
        degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
        if degenerate.any():
            j = int(torch.where(degenerate)[0][0])
            box: list[float] = boxes[j].tolist()
            raise TargetError(f"All bounding boxes should have positive height and width. Found invalid box "
                             f"{box} (box {j}) for target at index {i}.")


def original_image_sizes(images: list[Tensor]) -> list[tuple[int, int]]:
    """``(h, w)`` of each input image. While tracing for export they stay traced sizes (not constants), so the exported
    graph maps predictions back to whatever size it is given."""
    sizes: list[tuple[int, int]] = []
    for image in images:
        sizes.append((image.shape[-2], image.shape[-1]))
    return sizes


class GeneralizedRCNN(nn.Module):
    """Training mode returns the loss dict; eval mode returns per image ``{"boxes", "labels", "scores"[, "masks"]}``
    in the original image's coordinates.

    ``loss_weights`` (ours; torchvision has none) scales named losses in the returned dict, e.g.
    ``{"loss_mask": 2.0}``; losses it does not name keep weight 1. It is a plain attribute, so it can be changed
    between steps.
    """

    loss_weights: dict[str, float]

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: nn.Module, transform: nn.Module,
                 loss_weights: Optional[dict[str, float]] = None) -> None:
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self.loss_weights = dict(loss_weights or {})

    def weight_losses(self, losses: dict[str, Tensor]) -> dict[str, Tensor]:
        """``losses`` with each one named in :attr:`loss_weights` multiplied by its weight."""
        unknown: list[str] = []
        for name in self.loss_weights.keys():
            if name not in losses:
                unknown.append(name)
        if len(losses) > 0 and len(unknown) > 0:  # inference computes no losses: nothing to check
            unknown.sort()
            known = list(losses.keys())
            known.sort()
            raise ValueError(f"loss_weights names {unknown}, which this model does not compute; its losses "
                             f"are {known}")
        weighted: dict[str, Tensor] = {}
        for name, loss in losses.items():
            weighted[name] = loss * self.loss_weights[name] if name in self.loss_weights else loss
        return weighted

    @torch.jit.unused
    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]
                      ) -> Union[dict[str, Tensor], list[dict[str, Tensor]]]:
        return losses if self.training else detections

    def forward(self, images: list[Tensor], targets: Optional[list[dict[str, Tensor]]] = None
                ) -> tuple[dict[str, Tensor], list[dict[str, Tensor]]]:
        """Eager: the loss dict in training, the detections in eval. Scripted: ``(losses, detections)`` always, as
        torchvision's scripted model returns."""
        if self.training:
            validate_training_targets(targets, len(images))
        image_list, targets = self.transform(images, targets)  # also checks that images are [C, H, W]
        original_sizes = original_image_sizes(images)
        if targets is not None:
            check_degenerate_boxes(targets)
        features = self.backbone(image_list.tensors)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        proposals, proposal_losses = self.rpn(image_list, features, targets)
        detections, detector_losses = self.roi_heads(features, proposals, image_list.image_sizes, targets)
        detections = self.transform.postprocess(detections, image_list.image_sizes, original_sizes)
        losses = detector_losses
        losses.update(proposal_losses)
        losses = self.weight_losses(losses)
        if torch.jit.is_scripting():  # TorchScript needs one return type: torchvision's (losses, detections)
            return losses, detections
        else:
            return self.eager_outputs(losses, detections)
