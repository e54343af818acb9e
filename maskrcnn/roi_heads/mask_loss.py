"""Mask loss: per positive RoI, binary cross entropy between the ground-truth class's 28 x 28 logits and the
ground-truth mask cropped and resized to the RoI.

Targets are ``roi_align(gt_mask, roi, (28, 28), spatial_scale=1.0, sampling_ratio=-1, aligned=False)`` of the
float mask (adaptive sampling), kept soft (not binarised), as torchvision does. With no positive RoI the loss is 0
and stays connected to the graph (so every parameter still receives a gradient, of zero).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import roi_align


def project_masks_on_boxes(gt_masks: Tensor, boxes: Tensor, matched_idxs: Tensor, resolution: int) -> Tensor:
    """``[K, M, M]`` crops of ``gt_masks [G, H, W]`` under ``boxes [K, 4]``, mask ``matched_idxs[k]`` for box k."""
    rois = torch.cat([matched_idxs.to(boxes)[:, None], boxes], dim=1)
    return roi_align(gt_masks[:, None].to(rois), rois, (resolution, resolution), 1.0)[:, 0]


def maskrcnn_loss(mask_logits: Tensor, proposals: list[Tensor], gt_masks: list[Tensor], gt_labels: list[Tensor],
                  mask_matched_idxs: list[Tensor]) -> Tensor:
    resolution = mask_logits.shape[-1]
    labels = torch.cat([gt[idxs] for gt, idxs in zip(gt_labels, mask_matched_idxs)], dim=0)
    targets = torch.cat([project_masks_on_boxes(m, p, i, resolution)
                         for m, p, i in zip(gt_masks, proposals, mask_matched_idxs)], dim=0)
    if targets.numel() == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy_with_logits(
        mask_logits[torch.arange(labels.shape[0], device=labels.device), labels], targets)
