"""Helpers for comparing this library with torchvision's: used by the test suite and by ``tools/benchmark.py``.

``pretrained_like_pair`` builds torchvision's Mask R-CNN as a user of a trained model runs it, and ours loaded from
its ``state_dict``; ``match_detections`` pairs two models' detections one to one.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from .backbone.backbone_with_fpn import resnet_fpn_backbone
from .mask_rcnn import MaskRCNN
from .ops.boxes import box_iou
from .ops.frozen_batch_norm import FrozenBatchNorm2d

#: Scales the random classifier so that class scores spread like a trained model's (0.3-0.6 at the top) instead of
#: all being ~1/91, and the full 100 detections pass torchvision's 0.05 threshold.
CLASSIFIER_SCALE = 30.0


def _randomise_norms(model: nn.Module, generator: torch.Generator, is_norm: Callable[[nn.Module], bool]) -> None:
    """Statistics like a trained network's in every norm layer ``is_norm`` accepts (in module order), so that
    folding them into the convolutions changes real numbers."""
    with torch.no_grad():
        for module in model.modules():
            if is_norm(module):
                n = module.weight.numel()
                module.weight.copy_(torch.rand(n, generator=generator) * 0.5 + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) * 0.5 + 0.75)


def randomise_frozen_batch_norm(model: nn.Module, generator: torch.Generator) -> None:
    """Trained-like statistics in every ``FrozenBatchNorm2d`` (ours or torchvision's)."""
    _randomise_norms(model, generator, lambda module: type(module).__name__ == "FrozenBatchNorm2d")


def randomise_batch_norm(model: nn.Module, generator: torch.Generator) -> None:
    """The same for plain ``BatchNorm2d`` (v2, MobileNet): fresh ones would fold to the identity."""
    _randomise_norms(model, generator, lambda module: isinstance(module, nn.BatchNorm2d))


def freeze_early_stages(model: nn.Module, trainable: tuple[str, ...] = ("layer2", "layer3", "layer4")) -> None:
    """As a model built from pretrained weights has it: only the last three backbone stages train."""
    for name, parameter in model.backbone.body.named_parameters():
        parameter.requires_grad_(name.startswith(trainable))


def pretrained_like_pair_v2(seed: int = 0, **kwargs) -> tuple[nn.Module, MaskRCNN]:
    """torchvision's ``maskrcnn_resnet50_fpn_v2`` as a user fine-tuning its COCO file has it (trained-like batch norm
    statistics everywhere, three trainable stages, spread class scores), and ours loaded from it; float32."""
    from torchvision.models.detection import maskrcnn_resnet50_fpn_v2 as tv_maskrcnn_resnet50_fpn_v2

    from .builders import maskrcnn_resnet50_fpn_v2

    kwargs = {"num_classes": 91, **kwargs}
    torch.manual_seed(seed)
    reference = tv_maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, **kwargs)
    randomise_batch_norm(reference, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        reference.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    ours = maskrcnn_resnet50_fpn_v2(weights_backbone=None, **kwargs)
    ours.load_state_dict(reference.state_dict())
    for model in (reference, ours):
        freeze_early_stages(model)
    return reference, ours


def pretrained_like_pair(seed: int = 0, **kwargs) -> tuple[nn.Module, MaskRCNN]:
    """torchvision's ``MaskRCNN`` on a ResNet-50-FPN with frozen batch norm (random non-trivial statistics),
    three trainable stages and a scaled classifier, and ours loaded from its ``state_dict``; float32, plain modules.
    ``kwargs`` go to both constructors (``min_size``, ``box_score_thresh``, ...)."""
    from torchvision.models.detection import MaskRCNN as TorchvisionMaskRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone as tv_resnet_fpn_backbone
    from torchvision.ops import FrozenBatchNorm2d as TorchvisionFrozenBatchNorm2d

    kwargs = {"num_classes": 91, **kwargs}
    torch.manual_seed(seed)
    reference = TorchvisionMaskRCNN(tv_resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                                           norm_layer=TorchvisionFrozenBatchNorm2d,
                                                           trainable_layers=3), **kwargs)
    randomise_frozen_batch_norm(reference, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        reference.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    ours = MaskRCNN(resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d,
                                        trainable_layers=3), **kwargs)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def match_detections(ours: dict[str, Tensor], reference: dict[str, Tensor], iou_thresh: float = 0.99
                     ) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``: reference detection j (in its order) matched to the unmatched detection i of ``ours`` with
    the same label and the highest IoU, if that IoU exceeds ``iou_thresh``."""
    if len(reference["boxes"]) == 0 or len(ours["boxes"]) == 0:
        return []
    iou = box_iou(reference["boxes"].double().cpu(), ours["boxes"].double().cpu())
    iou[reference["labels"].cpu()[:, None] != ours["labels"].cpu()[None, :]] = 0
    taken = torch.zeros(iou.shape[1], dtype=torch.bool)
    pairs = []
    for j, row in enumerate(iou):
        row = row.masked_fill(taken, 0)
        i = int(row.argmax())
        if row[i] > iou_thresh:
            taken[i] = True
            pairs.append((i, j))
    return pairs
