"""RPN training targets and loss.

Anchors are matched to ground truth by IoU (>= 0.7 positive, < 0.3 negative, in between ignored, and every ground
truth keeps its best anchors); 256 anchors per image are sampled, half positive at most. Loss: binary cross entropy
on the sampled anchors' objectness (mean) and smooth L1 (beta 1/9, summed over the positives) divided by the
number of sampled anchors. An image without boxes contributes negatives only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..matcher import Matcher
from ..sampling import BalancedPositiveNegativeSampler

#: smooth L1's switch point from quadratic to linear, for both the RPN and the box head (Detectron's choice).
SMOOTH_L1_BETA = 1.0 / 9


def assign_targets_to_anchors(anchors: list[Tensor], gt_boxes: list[Tensor], match_quality: list[Tensor],
                              matcher: Matcher) -> tuple[list[Tensor], list[Tensor]]:
    """Per image: float labels (1 object, 0 background, -1 ignored) and each anchor's matched ground-truth box.

    ``match_quality[i]`` is image i's match quality matrix ``[G, A]`` (IoU of ground truths and anchors).
    """
    labels: list[Tensor] = []
    matched_gt_boxes: list[Tensor] = []
    for anchors_per_image, gt, quality in zip(anchors, gt_boxes, match_quality):
        if gt.numel() == 0:
            matched_gt_boxes.append(torch.zeros_like(anchors_per_image))
            labels.append(torch.zeros(anchors_per_image.shape[0], dtype=torch.float32, device=anchors_per_image.device))
            continue
        matched_idxs = matcher(quality)
        matched_gt_boxes.append(gt[matched_idxs.clamp(min=0)])
        image_labels = (matched_idxs >= 0).to(torch.float32)
        image_labels[matched_idxs == matcher.BELOW_LOW_THRESHOLD] = 0.0
        image_labels[matched_idxs == matcher.BETWEEN_THRESHOLDS] = -1.0
        labels.append(image_labels)
    return labels, matched_gt_boxes


def rpn_loss(objectness: Tensor, pred_deltas: Tensor, labels: list[Tensor], regression_targets: list[Tensor],
             sampler: BalancedPositiveNegativeSampler, beta: float = SMOOTH_L1_BETA) -> tuple[Tensor, Tensor]:
    """Returns ``(loss_objectness, loss_rpn_box_reg)``."""
    sampled_pos, sampled_neg = sampler(labels)
    sampled_pos = torch.where(torch.cat(sampled_pos, dim=0))[0]
    sampled_neg = torch.where(torch.cat(sampled_neg, dim=0))[0]
    sampled = torch.cat([sampled_pos, sampled_neg], dim=0)
    labels_all = torch.cat(labels, dim=0)
    targets_all = torch.cat(regression_targets, dim=0)
    box_loss = F.smooth_l1_loss(pred_deltas[sampled_pos], targets_all[sampled_pos], beta=beta,
                                reduction="sum") / sampled.numel()
    objectness_loss = F.binary_cross_entropy_with_logits(objectness.flatten()[sampled], labels_all[sampled])
    return objectness_loss, box_loss
