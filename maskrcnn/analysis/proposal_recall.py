"""How many objects the RPN proposes, next to how well the anchors could: recall of the ground truth by the top-k
proposals, and the best-anchor IoU coverage (:mod:`.anchor_coverage`), by object size.

Both are measured where the RPN works, in the model's resized frame: the model's own transform resizes the image and
its boxes, the backbone and RPN run as in ``model(images)`` (eval mode: the RPN's post-NMS proposals, best first),
and an object counts as recalled by the top k at IoU t when one of them overlaps it by >= t. Sizes are COCO's
ranges of box area, in the resized frame (where the anchors are). Crowd regions are not objects here (the dataset
keeps them out of the targets).

When the anchors are the bottleneck, :func:`suggest_anchors` tries ladders of anchor sizes (one per FPN level,
doubling from level to level as torchvision's do) and aspect ratios taken from the boxes' own, and returns the one
that covers most objects at IoU >= 0.7.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from torch import Tensor, nn

from ..ops.boxes import box_area, box_iou
from ..rpn.anchor_generator import AnchorGenerator
from .anchor_coverage import SIZE_RANGES, anchor_coverage

TOPS = (100, 300, 1000)
RECALL_IOUS = (0.5, 0.7)
#: The IoU at which the RPN takes an anchor as a positive (torchvision's fg_iou_thresh).
ANCHOR_IOU = 0.7


@dataclass
class ProposalRecall:
    #: top k -> each object's best IoU with the RPN's k best proposals, ``[G]``
    best_iou: dict[int, Tensor]
    #: each object's area in the resized frame, ``[G]``
    areas: Tensor
    images: int

    def recall(self, top: int, iou: float, size: Optional[str] = None) -> float:
        chosen = self.best_iou[top][_in_size(self.areas, size)]
        return float((chosen >= iou).float().mean()) if len(chosen) else float("nan")

    def count(self, size: Optional[str] = None) -> int:
        return int(_in_size(self.areas, size).sum())

    def to_dict(self) -> dict[str, Any]:
        sizes = [None] + [name for name, _, _ in SIZE_RANGES]
        return {"images": self.images, "objects": {size or "all": self.count(size) for size in sizes},
                "recall": {f"top{top}@{iou}": {size or "all": self.recall(top, iou, size) for size in sizes}
                           for top in self.best_iou for iou in RECALL_IOUS}}


def _in_size(areas: Tensor, size: Optional[str]) -> Tensor:
    if size is None:
        return torch.ones_like(areas, dtype=torch.bool)
    low, high = {name: (low, high) for name, low, high in SIZE_RANGES}[size]
    return (areas >= low) & (areas < high)


def proposal_tops(model: nn.Module) -> list[int]:
    """:data:`TOPS` capped at the number of proposals the model (in eval mode) keeps per image."""
    return sorted({min(top, model.rpn.post_nms_top_n()) for top in TOPS})


@torch.inference_mode()
def proposal_recall(model: nn.Module, batches, device: torch.device, max_images: Optional[int] = None
                    ) -> tuple[ProposalRecall, list[Tensor], list[tuple[int, int]]]:
    """The RPN's recall over ``batches`` ((images, targets) as a detection data loader gives them; targets' boxes
    xyxy in image pixels); also each image's boxes and size ``(h, w)``, for :func:`anchor_coverage`."""
    model.eval()
    tops = proposal_tops(model)
    best: dict[int, list[Tensor]] = {top: [] for top in tops}
    areas, boxes, sizes = [], [], []
    seen = 0
    for images, targets in batches:
        if max_images is not None and seen >= max_images:
            break
        images = [image.to(device) for image in images]
        image_list, resized = model.transform(images, [{"boxes": t["boxes"].to(device)} for t in targets])
        features = model.backbone(image_list.tensors)
        proposals, _ = model.rpn(image_list, features)
        for image, target, truth, candidates in zip(images, targets, resized, proposals):
            seen += 1
            boxes.append(target["boxes"].cpu())
            sizes.append((int(image.shape[-2]), int(image.shape[-1])))
            if len(truth["boxes"]) == 0:
                continue
            truth_boxes, candidates = truth["boxes"].float().cpu(), candidates.float().cpu()
            iou = box_iou(truth_boxes, candidates) if len(candidates) else torch.zeros(len(truth_boxes), 1)
            for top in tops:
                best[top].append(iou[:, :top].max(dim=1).values)
            areas.append(box_area(truth_boxes))
    if not areas:
        return ProposalRecall({top: torch.zeros(0) for top in tops}, torch.zeros(0), seen), boxes, sizes
    return ProposalRecall({top: torch.cat(v) for top, v in best.items()}, torch.cat(areas), seen), boxes, sizes


def anchor_summary(generator: AnchorGenerator) -> dict[str, list]:
    return {"sizes": [list(s) for s in generator.sizes],
            "aspect_ratios": [float(r) for r in generator.aspect_ratios[0]]}


def coverage_by_size(coverage) -> dict[str, float]:
    values = {"all": coverage.fraction_at_least(ANCHOR_IOU)}
    values.update({name: coverage.fraction_at_least(ANCHOR_IOU, (low, high)) for name, low, high in SIZE_RANGES})
    return values


def box_ratios(boxes: Sequence[Tensor]) -> Tensor:
    """Height / width of every box (the anchors' aspect-ratio convention)."""
    stacked = torch.cat([b.float() for b in boxes if len(b)]) if any(len(b) for b in boxes) else torch.zeros(0, 4)
    widths, heights = stacked[:, 2] - stacked[:, 0], stacked[:, 3] - stacked[:, 1]
    keep = (widths > 0) & (heights > 0)
    return heights[keep] / widths[keep]


def _round(value: float) -> float:
    return float(f"{value:.2g}")


def suggest_anchors(boxes: Sequence[Tensor], image_sizes: Sequence[tuple[int, int]], min_size: int, max_size: int,
                    current: AnchorGenerator, sample: int = 300, seed: int = 0) -> dict[str, Any]:
    """Anchor sizes and ratios that would cover the boxes best at IoU >= 0.7, with that coverage (overall and by
    size), and the current anchors' coverage, measured on up to ``sample`` images (a seeded sample)."""
    pairs = [(b, s) for b, s in zip(boxes, image_sizes) if len(b)]
    if len(pairs) > sample:
        pairs = random.Random(seed).sample(pairs, sample)
    if not pairs:
        return {}
    boxes, image_sizes = [b for b, _ in pairs], [s for _, s in pairs]
    ratios = box_ratios(boxes)
    quantiles = [_round(float(q)) for q in torch.quantile(ratios, torch.tensor([0.1, 0.5, 0.9]))] if len(ratios) \
        else [1.0]
    ratio_sets = {tuple(float(r) for r in current.aspect_ratios[0]), tuple(sorted(set(quantiles)))}
    levels = len(current.sizes)
    smallest = min(s[0] for s in current.sizes)
    bases = sorted({2 ** k for k in range(2, 8)} | {smallest})
    trials = []
    for base in bases:
        for ratio_set in sorted(ratio_sets):
            sizes = tuple((base * 2 ** level,) for level in range(levels))
            generator = AnchorGenerator(sizes, (ratio_set,) * levels)
            coverage = anchor_coverage(boxes, image_sizes, min_size, max_size, generator)
            trials.append((coverage.fraction_at_least(ANCHOR_IOU), base, ratio_set, coverage))
    now = anchor_coverage(boxes, image_sizes, min_size, max_size, current)
    fraction, base, ratio_set, coverage = max(trials, key=lambda t: (t[0], -abs(math.log2(t[1] / smallest))))
    return {"images": len(pairs), "current": {**anchor_summary(current), "coverage": coverage_by_size(now)},
            "suggested": {"sizes": [base * 2 ** level for level in range(levels)],
                          "aspect_ratios": list(ratio_set), "coverage": coverage_by_size(coverage)},
            "box_ratio_quantiles": quantiles}
