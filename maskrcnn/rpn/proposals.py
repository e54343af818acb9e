"""From RPN outputs to proposals: flatten per-level predictions, then pick, clip and suppress per image.

Per image: the ``pre_nms_top_n`` highest objectness logits of each level, sigmoid, clip to the (resized, unpadded)
image, drop boxes with a side under ``min_size``, keep scores ``>= score_thresh``, NMS per level, then the
``post_nms_top_n`` best overall.
"""

import torch
from torch import Tensor

from ..ops.boxes import clip_boxes_to_image, remove_small_boxes
from ..ops.non_max_suppression import batched_nms


def flatten_predictions(objectness: list[Tensor], deltas: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Per-level ``[N, A*C, H, W]`` maps to ``[N * sum(H*W*A), C]`` rows ordered (image, level, y, x, anchor)."""
    flat_objectness, flat_deltas = [], []
    for obj, delta in zip(objectness, deltas):
        n, a_c, h, w = obj.shape
        a = delta.shape[1] // 4
        flat_objectness.append(obj.view(n, a, a_c // a, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, a_c // a))
        flat_deltas.append(delta.view(n, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4))
    return torch.cat(flat_objectness, dim=1).flatten(0, -2), torch.cat(flat_deltas, dim=1).reshape(-1, 4)


@torch.jit.unused
def traced_min(value: int, size: int) -> int:
    """``min(value, size)`` as a traced value: ``size`` is a traced size, a tensor (typed ``int`` for TorchScript,
    which never runs this)."""
    return torch.clamp(torch.as_tensor(size), max=value)


def top_n_per_level(objectness: Tensor, num_anchors_per_level: list[int], top_n: int) -> Tensor:
    """``[N, K]`` column indices of the ``top_n`` highest logits of each level (fewer where a level is smaller)."""
    indices, offset = [], 0
    for level_objectness in objectness.split(num_anchors_per_level, dim=1):
        if torch.jit.is_tracing():  # the level's size is traced: k must follow it in the exported graph
            k = traced_min(top_n, level_objectness.shape[1])
        else:
            k = min(top_n, level_objectness.shape[1])
        indices.append(level_objectness.topk(k, dim=1)[1] + offset)
        offset += level_objectness.shape[1]
    return torch.cat(indices, dim=1)


def candidates_before_nms(proposals: Tensor, objectness: Tensor, image_shapes: list[tuple[int, int]],
                          num_anchors_per_level: list[int], pre_nms_top_n: int, score_thresh: float,
                          min_size: float) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """``proposals [N, A_total, 4]`` and logits ``[N * A_total]`` -> per image the boxes NMS will see, their
    objectness probabilities and their levels: the top ``pre_nms_top_n`` of each level, clipped, without small or
    low-scoring boxes."""
    num_images = proposals.shape[0]
    device = proposals.device
    objectness = objectness.detach().reshape(num_images, -1)
    levels = torch.cat([torch.full((n,), idx, dtype=torch.int64, device=device)
                        for idx, n in enumerate(num_anchors_per_level)]).reshape(1, -1).expand_as(objectness)
    top = top_n_per_level(objectness, num_anchors_per_level, pre_nms_top_n)
    rows = torch.arange(num_images, device=device)[:, None]
    objectness, levels, proposals = objectness[rows, top], levels[rows, top], proposals[rows, top]
    probabilities = torch.sigmoid(objectness)
    all_boxes, all_scores, all_levels = [], [], []
    for boxes, scores, lvl, image_shape in zip(proposals, probabilities, levels, image_shapes):
        boxes = clip_boxes_to_image(boxes, image_shape)
        keep = remove_small_boxes(boxes, min_size)
        boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
        keep = torch.where(scores >= score_thresh)[0]
        all_boxes.append(boxes[keep])
        all_scores.append(scores[keep])
        all_levels.append(lvl[keep])
    return all_boxes, all_scores, all_levels


def suppress_per_level(boxes: list[Tensor], scores: list[Tensor], levels: list[Tensor], nms_thresh: float,
                       post_nms_top_n: int) -> tuple[list[Tensor], list[Tensor]]:
    """Per image: NMS within each level, then the ``post_nms_top_n`` best boxes and their probabilities."""
    final_boxes, final_scores = [], []
    for image_boxes, image_scores, image_levels in zip(boxes, scores, levels):
        keep = batched_nms(image_boxes, image_scores, image_levels, nms_thresh)[:post_nms_top_n]
        final_boxes.append(image_boxes[keep])
        final_scores.append(image_scores[keep])
    return final_boxes, final_scores
