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


@torch.jit.script_if_tracing
def heatmaps_to_keypoints(maps: Tensor, rois: Tensor) -> tuple[Tensor, Tensor]:
    """``maps`` ``[R, K, H, W]`` logits of the boxes ``rois`` ``[R, 4]`` (xyxy): keypoints ``[R, K, 3]`` (``x, y,
    1``) in the boxes' frame, and their scores ``[R, K]``, float32.

    Eager, this is a Python loop over the detections. While a model is traced (ONNX export) the function is
    scripted, so the trace records the loop itself (an ONNX ``Loop`` that resizes each map to its own box's size)
    rather than one pass per detection of the tracing image."""
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    num_keypoints = maps.shape[1]
    keypoints = torch.zeros((0, num_keypoints, 3), dtype=torch.float32, device=maps.device)
    scores = torch.zeros((0, num_keypoints), dtype=torch.float32, device=maps.device)
    for i in range(rois.shape[0]):
        points, point_scores = map_to_keypoints(maps[i], widths[i], heights[i], rois[i, 0], rois[i, 1])
        keypoints = torch.cat([keypoints, points[None].to(torch.float32)])
        scores = torch.cat([scores, point_scores[None].to(torch.float32)])
    return keypoints, scores


def map_to_keypoints(maps: Tensor, width: Tensor, height: Tensor, left: Tensor, top: Tensor) -> tuple[Tensor, Tensor]:
    """One detection's ``[K, H, W]`` maps, its box's size (each at least 1) and corner (0-dim tensors): keypoints
    ``[K, 3]`` and scores ``[K]``."""
    width_ceil, height_ceil = width.ceil(), height.ceil()
    roi_map = F.interpolate(maps[:, None], size=[int(height_ceil), int(width_ceil)], mode="bicubic",
                            align_corners=False)[:, 0]
    num_keypoints = maps.shape[0]
    flat = roi_map.reshape(num_keypoints, -1)
    best = flat.argmax(dim=1)
    # the map's width as an integer tensor, the rounded-up sizes as floats: ONNX's Mod and Div take one type each
    map_width = width_ceil.to(torch.int64)
    x_int = best % map_width
    y_int = torch.div(best - x_int, map_width, rounding_mode="floor")
    x = (x_int.float() + 0.5) * (width / width_ceil) + left
    y = (y_int.float() + 0.5) * (height / height_ceil) + top
    scores = flat.gather(1, best[:, None])[:, 0]  # the map at (y_int, x_int): a gather, which ONNX exports
    return torch.stack([x, y, torch.ones_like(x)], dim=1), scores


def keypointrcnn_inference(x: Tensor, boxes: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """The keypoints and scores of each image's detections, from the heatmap logits ``x`` of all of them."""
    keypoints, scores = [], []
    # shape[0], not len(): traced, the counts stay traced values (len() would fix the tracing image's in the graph)
    for maps, image_boxes in zip(x.split([b.shape[0] for b in boxes], dim=0), boxes):
        image_keypoints, image_scores = heatmaps_to_keypoints(maps, image_boxes)
        keypoints.append(image_keypoints)
        scores.append(image_scores)
    return keypoints, scores
