"""Keypoints from heatmaps: each detection's ``[K, 56, 56]`` logits are resized (bicubic, ``align_corners=False``)
to the box's size in pixels (rounded up), and each keypoint is the centre of its map's best cell.

Cell ``d`` has its centre at ``d + 0.5`` (Heckbert's discrete-to-continuous rule, the inverse of the targets'
``floor``), scaled back by ``box size / rounded-up size`` and offset by the box's corner. The keypoint's score is the
resized logit there (not a probability). Boxes narrower or shorter than 1 pixel count as 1 pixel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def heatmaps_to_keypoints(maps: Tensor, rois: Tensor) -> tuple[Tensor, Tensor]:
    """``maps`` ``[R, K, H, W]`` logits of the boxes ``rois`` ``[R, 4]`` (xyxy): keypoints ``[R, K, 3]`` (``x, y,
    1``) in the boxes' frame, and their scores ``[R, K]``."""
    offset_x, offset_y = rois[:, 0], rois[:, 1]
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    widths_ceil, heights_ceil = widths.ceil(), heights.ceil()
    num_keypoints = maps.shape[1]
    xy_preds = torch.zeros((len(rois), 3, num_keypoints), dtype=torch.float32, device=maps.device)
    end_scores = torch.zeros((len(rois), num_keypoints), dtype=torch.float32, device=maps.device)
    keypoint_index = torch.arange(num_keypoints, device=maps.device)
    for i in range(len(rois)):
        map_width, map_height = int(widths_ceil[i].item()), int(heights_ceil[i].item())
        roi_map = F.interpolate(maps[i][:, None], size=(map_height, map_width), mode="bicubic",
                                align_corners=False)[:, 0]
        best = roi_map.reshape(num_keypoints, -1).argmax(dim=1)
        x_int = best % map_width
        y_int = torch.div(best - x_int, map_width, rounding_mode="floor")
        xy_preds[i, 0, :] = (x_int.float() + 0.5) * (widths[i] / map_width) + offset_x[i]
        xy_preds[i, 1, :] = (y_int.float() + 0.5) * (heights[i] / map_height) + offset_y[i]
        xy_preds[i, 2, :] = 1
        end_scores[i, :] = roi_map[keypoint_index, y_int, x_int]
    return xy_preds.permute(0, 2, 1), end_scores


def keypointrcnn_inference(x: Tensor, boxes: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """The keypoints and scores of each image's detections, from the heatmap logits ``x`` of all of them."""
    keypoints, scores = [], []
    for maps, image_boxes in zip(x.split([len(b) for b in boxes], dim=0), boxes):
        image_keypoints, image_scores = heatmaps_to_keypoints(maps, image_boxes)
        keypoints.append(image_keypoints)
        scores.append(image_scores)
    return keypoints, scores
