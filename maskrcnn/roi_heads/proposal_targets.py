"""Training targets for the RoI heads: match proposals to ground truth, sample, and encode box targets.

Ground-truth boxes are appended to the proposals. Matching uses IoU >= 0.5 foreground, below background (no
ignored band, no low-quality matches). ``batch_size_per_image`` RoIs are sampled with at most ``positive_fraction``
foreground; sampled indices are used in ascending order. Labels are the matched ground-truth class (0 background).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..box_coder import BoxCoder
from ..matcher import Matcher
from ..ops.boxes import box_iou
from ..sampling import BalancedPositiveNegativeSampler


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


def select_training_samples(proposals: list[Tensor], targets: list[dict[str, Tensor]], matcher: Matcher,
                            sampler: BalancedPositiveNegativeSampler, box_coder: BoxCoder
                            ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
    """Returns per image the sampled proposals, their matched gt indices, labels and regression targets."""
    dtype, device = proposals[0].dtype, proposals[0].device
    gt_boxes = [t["boxes"].to(dtype) for t in targets]
    gt_labels = [t["labels"] for t in targets]
    proposals = [torch.cat((p, gt)) for p, gt in zip(proposals, gt_boxes)]
    matched_idxs, labels = assign_targets_to_proposals(proposals, gt_boxes, gt_labels, matcher)
    sampled_pos, sampled_neg = sampler(labels)
    sampled_proposals, sampled_matched, sampled_labels, matched_gt_boxes = [], [], [], []
    for i, (pos, neg) in enumerate(zip(sampled_pos, sampled_neg)):
        keep = torch.where(pos | neg)[0]
        sampled_proposals.append(proposals[i][keep])
        sampled_labels.append(labels[i][keep])
        sampled_matched.append(matched_idxs[i][keep])
        # An image without boxes matches every RoI to a dummy zero box (its regression targets go unused).
        gt = gt_boxes[i] if gt_boxes[i].numel() > 0 else torch.zeros((1, 4), dtype=dtype, device=device)
        matched_gt_boxes.append(gt[sampled_matched[-1]])
    regression_targets = list(box_coder.encode(matched_gt_boxes, sampled_proposals))
    return sampled_proposals, sampled_matched, sampled_labels, regression_targets
