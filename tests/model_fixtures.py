"""Shared builders for the model parity tests: torchvision's model with random weights, ours loaded from it."""
from __future__ import annotations

import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn as tv_maskrcnn_resnet50_fpn

import maskrcnn

# Small images keep the suite fast on 2 CPU cores; 224-320 px still exercises every pyramid level.
SMALL = dict(min_size=224, max_size=320)


def model_pair(seed: int = 0, dtype=torch.float64, **kwargs):
    """torchvision's Mask R-CNN (random weights, seeded) and ours with its state_dict, both in eval mode."""
    torch.manual_seed(seed)
    reference = tv_maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, **{**SMALL, **kwargs})
    ours = maskrcnn.maskrcnn_resnet50_fpn(**{**SMALL, **kwargs})
    ours.load_state_dict(reference.state_dict())
    return reference.to(dtype).eval(), ours.to(dtype).eval()


def pretrained_like_pair(seed: int = 0, dtype=torch.float64, **kwargs):
    """As a user of a trained model has it: frozen batch norm with non-trivial statistics (so that folding it into
    the convolutions changes real numbers) and class scores spread like a trained model's, not all ~1/91."""
    from torchvision.models.detection import MaskRCNN as TvMaskRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone as tv_resnet_fpn_backbone
    from torchvision.ops import FrozenBatchNorm2d as TvFrozenBatchNorm2d

    torch.manual_seed(seed)
    reference = TvMaskRCNN(tv_resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                                  norm_layer=TvFrozenBatchNorm2d, trainable_layers=3),
                           num_classes=91, **{**SMALL, **kwargs})
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, TvFrozenBatchNorm2d):
                n = module.weight.numel()
                module.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                module.bias.copy_(torch.randn(n, generator=g) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
        reference.roi_heads.box_predictor.cls_score.weight.mul_(30.0)
    ours = maskrcnn.MaskRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                                          norm_layer=maskrcnn.FrozenBatchNorm2d, trainable_layers=3),
                             num_classes=91, **{**SMALL, **kwargs})
    ours.load_state_dict(reference.state_dict())
    return reference.to(dtype).eval(), ours.to(dtype).eval()


def random_images(sizes, seed: int = 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(3, h, w, generator=g, dtype=torch.float64).to(dtype) for h, w in sizes]


def targets_for(sizes, dtype=torch.float64, empty_index=None):
    """Two rectangles per image, with masks that fill their boxes except a hole; ``empty_index`` has no object."""
    targets = []
    for i, (h, w) in enumerate(sizes):
        if i == empty_index:
            targets.append({"boxes": torch.zeros(0, 4, dtype=dtype), "labels": torch.zeros(0, dtype=torch.int64),
                            "masks": torch.zeros(0, h, w, dtype=torch.uint8)})
            continue
        boxes = torch.tensor([[0.1 * w, 0.1 * h, 0.6 * w, 0.5 * h], [0.4 * w, 0.45 * h, 0.95 * w, 0.9 * h]],
                             dtype=dtype).round()
        masks = torch.zeros(2, h, w, dtype=torch.uint8)
        for m, (x1, y1, x2, y2) in zip(masks, boxes.long().tolist()):
            m[y1:y2, x1:x2] = 1
            m[(y1 + y2) // 2:y2, x1:(x1 + x2) // 2] = 0
        targets.append({"boxes": boxes, "labels": torch.tensor([3, 7]), "masks": masks})
    return targets
