"""Fast R-CNN loss: cross entropy over classes + smooth L1 on the ground-truth class's deltas.

Both are averaged over all sampled RoIs (the box term sums over positives, then divides by the sample count).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..rpn.loss import SMOOTH_L1_BETA


def fastrcnn_loss(class_logits: Tensor, box_regression: Tensor, labels: list[Tensor],
                  regression_targets: list[Tensor], beta: float = SMOOTH_L1_BETA) -> tuple[Tensor, Tensor]:
    """Returns ``(loss_classifier, loss_box_reg)``."""
    labels_all = torch.cat(labels, dim=0)
    targets_all = torch.cat(regression_targets, dim=0)
    classification_loss = F.cross_entropy(class_logits, labels_all)
    positive = torch.where(labels_all > 0)[0]
    per_class = box_regression.reshape(class_logits.shape[0], box_regression.size(-1) // 4, 4)
    box_loss = F.smooth_l1_loss(per_class[positive, labels_all[positive]], targets_all[positive],
                                beta=beta, reduction="sum")
    return classification_loss, box_loss / labels_all.numel()
