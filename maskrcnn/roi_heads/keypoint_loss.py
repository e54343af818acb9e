"""Keypoint targets and loss: each visible ground-truth keypoint becomes a one-hot target on its RoI's heatmap, and
the loss is a softmax cross-entropy over the heatmap's cells (one class per cell), as in the Mask R-CNN paper.

Keypoints are ``[K, 3]`` per object: ``(x, y, visibility)`` in input pixels, visibility > 0 for labelled points
(COCO: 0 not labelled, 1 labelled but hidden, 2 visible). A point maps to the heatmap cell ``floor((x - x1) * S /
(x2 - x1))`` (S the heatmap side); a point exactly on the RoI's right or bottom edge goes to the last cell.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def keypoints_to_heatmap(keypoints: Tensor, rois: Tensor, heatmap_size: int) -> tuple[Tensor, Tensor]:
    """``keypoints`` ``[R, K, 3]`` of the objects matched to ``rois`` ``[R, 4]``: the target cell index
    ``y * S + x`` of each ``[R, K]`` (0 where invalid), and whether it is valid (labelled and inside the RoI)."""
    offset_x, offset_y = rois[:, 0, None], rois[:, 1, None]
    scale_x = heatmap_size / (rois[:, 2] - rois[:, 0])[:, None]
    scale_y = heatmap_size / (rois[:, 3] - rois[:, 1])[:, None]
    x, y = keypoints[..., 0], keypoints[..., 1]
    on_right_edge = x == rois[:, 2, None]
    on_bottom_edge = y == rois[:, 3, None]
    x = ((x - offset_x) * scale_x).floor().long()
    y = ((y - offset_y) * scale_y).floor().long()
    x[on_right_edge] = heatmap_size - 1
    y[on_bottom_edge] = heatmap_size - 1
    inside = (x >= 0) & (y >= 0) & (x < heatmap_size) & (y < heatmap_size)
    valid = (inside & (keypoints[..., 2] > 0)).long()
    return (y * heatmap_size + x) * valid, valid


def keypointrcnn_loss(keypoint_logits: Tensor, proposals: list[Tensor], gt_keypoints: list[Tensor],
                      keypoint_matched_idxs: list[Tensor]) -> Tensor:
    """Cross-entropy of the ``[N, K, S, S]`` logits against the target cells of the valid keypoints, averaged over
    them; 0 (still connected to the logits) when no keypoint is valid."""
    count, num_keypoints, height, width = keypoint_logits.shape
    if height != width:
        raise ValueError(f"keypoint_logits height and width (last two elements of shape) should be equal. Instead "
                         f"got H = {height} and W = {width}")
    targets, valid = [], []
    for proposals_per_image, keypoints_per_image, matched in zip(proposals, gt_keypoints, keypoint_matched_idxs):
        cells, is_valid = keypoints_to_heatmap(keypoints_per_image[matched], proposals_per_image, height)
        targets.append(cells.view(-1))
        valid.append(is_valid.view(-1))
    target_cells = torch.cat(targets, dim=0)
    valid_index = torch.where(torch.cat(valid, dim=0).to(dtype=torch.uint8))[0]
    if target_cells.numel() == 0 or len(valid_index) == 0:  # cross_entropy's mean of nothing would be nan
        return keypoint_logits.sum() * 0
    logits = keypoint_logits.reshape(count * num_keypoints, height * width)  # the fast form gives channels-last maps
    return F.cross_entropy(logits[valid_index], target_cells[valid_index])
