"""Turns box-head outputs into detections: decode, score, filter, per-class NMS, keep the best.

Per image: softmax over classes; every (proposal, foreground class) pair is a candidate with that class's decoded
box, clipped to the image; candidates with score ``> score_thresh`` (strict) and both sides ``>= 1e-2`` go through
NMS per class; the ``detections_per_img`` highest scores remain.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..box_coder import BoxCoder
from ..ops.boxes import clip_boxes_to_image, remove_small_boxes
from ..ops.non_max_suppression import batched_nms

#: Detections with a side shorter than this (pixels of the resized image) are dropped.
MIN_DETECTION_SIZE = 1e-2


def postprocess_detections(class_logits: Tensor, box_regression: Tensor, proposals: list[Tensor],
                           image_shapes: list[tuple[int, int]], box_coder: BoxCoder, score_thresh: float,
                           nms_thresh: float, detections_per_img: int, min_size: float = MIN_DETECTION_SIZE
                           ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Per image: boxes ``[D, 4]``, scores ``[D]``, labels ``[D]`` (int64, 1..num_classes-1), best first."""
    num_classes = class_logits.shape[-1]
    boxes_per_image = [p.shape[0] for p in proposals]
    pred_boxes = box_coder.decode(box_regression, proposals).split(boxes_per_image, 0)
    pred_scores = F.softmax(class_logits, -1).split(boxes_per_image, 0)
    all_boxes, all_scores, all_labels = [], [], []
    for boxes, scores, image_shape in zip(pred_boxes, pred_scores, image_shapes):
        boxes = clip_boxes_to_image(boxes, image_shape)
        labels = torch.arange(num_classes, device=class_logits.device).view(1, -1).expand_as(scores)
        # Drop the background column; flatten (proposal, class) pairs.
        boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
        keep = torch.where(scores > score_thresh)[0]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = remove_small_boxes(boxes, min_size=min_size)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = batched_nms(boxes, scores, labels, nms_thresh)[:detections_per_img]
        all_boxes.append(boxes[keep])
        all_scores.append(scores[keep])
        all_labels.append(labels[keep])
    return all_boxes, all_scores, all_labels
