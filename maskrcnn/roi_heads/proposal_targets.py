"""Training targets for the RoI heads: match proposals to ground truth, sample, and encode box targets.

Ground-truth boxes are appended to the proposals. Matching uses IoU >= 0.5 foreground, below background (no
ignored band, no low-quality matches). ``batch_size_per_image`` RoIs are sampled with at most ``positive_fraction``
foreground; sampled indices are used in ascending order. Labels are the matched ground-truth class (0 background).
``RoIHeads.select_training_samples`` composes these steps through its own methods (torchvision's override points).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..box_coder import BoxCoder
from ..matcher import Matcher
from ..ops.boxes import box_iou
from ..sampling import BalancedPositiveNegativeSampler


def add_gt_proposals(proposals: list[Tensor], gt_boxes: list[Tensor]) -> list[Tensor]:
    """Each image's proposals followed by its ground-truth boxes (so every object has at least one RoI)."""
    return [torch.cat((p, gt)) for p, gt in zip(proposals, gt_boxes)]


def assign_targets_to_proposals(proposals: list[Tensor], gt_boxes: list[Tensor], gt_labels: list[Tensor],
                                matcher: Matcher) -> tuple[list[Tensor], list[Tensor]]:
    """Per image: matched ground-truth index (clamped to >= 0) and label (0 background, -1 ignored)."""
    matched_idxs, labels = [], []
    for proposals_in_image, gt, gt_lab in zip(proposals, gt_boxes, gt_labels):
        if gt.numel() == 0:
            zeros = torch.zeros(proposals_in_image.shape[0], dtype=torch.int64, device=proposals_in_image.device)
            matched_idxs.append(zeros)
            labels.append(zeros.clone())
            continue
        matched = matcher(box_iou(gt, proposals_in_image))
        image_labels = gt_lab[matched.clamp(min=0)].to(torch.int64)
        image_labels[matched == matcher.BELOW_LOW_THRESHOLD] = 0
        image_labels[matched == matcher.BETWEEN_THRESHOLDS] = -1
        matched_idxs.append(matched.clamp(min=0))
        labels.append(image_labels)
    return matched_idxs, labels


def subsample(labels: list[Tensor], sampler: BalancedPositiveNegativeSampler) -> list[Tensor]:
    """Per image, the ascending indices of the sampled RoIs (positives and negatives together)."""
    sampled_pos, sampled_neg = sampler(labels)
    return [torch.where(pos | neg)[0] for pos, neg in zip(sampled_pos, sampled_neg)]


def regression_targets_for(proposals: list[Tensor], matched_idxs: list[Tensor], gt_boxes: list[Tensor],
                           box_coder: BoxCoder) -> list[Tensor]:
    """Encoded deltas from each sampled RoI to its matched ground-truth box.

    An image without boxes matches every RoI to a dummy zero box (its targets go unused: all its RoIs are negative).
    """
    matched_gt_boxes = []
    for boxes, matched, gt in zip(proposals, matched_idxs, gt_boxes):
        if gt.numel() == 0:
            gt = torch.zeros((1, 4), dtype=boxes.dtype, device=boxes.device)
        matched_gt_boxes.append(gt[matched])
    return list(box_coder.encode(matched_gt_boxes, proposals))


def positive_samples(proposals: list[Tensor], labels: list[Tensor], matched_idxs: list[Tensor]
                     ) -> tuple[list[Tensor], list[Tensor]]:
    """The foreground RoIs of each image and their matched ground-truth indices (the mask branch trains on them)."""
    positive = [torch.where(image_labels > 0)[0] for image_labels in labels]
    return ([p[pos] for p, pos in zip(proposals, positive)], [m[pos] for m, pos in zip(matched_idxs, positive)])
