"""Box regression targets: the (dx, dy, dw, dh) parametrisation of R-CNN.

Convention: boxes are xyxy, widths are ``x2 - x1`` (no ``+1``), centres ``x1 + 0.5 * width``.
``encode`` gives ``wx * (gt_cx - ref_cx) / ref_w`` and ``ww * log(gt_w / ref_w)``; ``decode`` inverts it, clamping
``dw, dh`` at ``bbox_xform_clip`` (log(1000 / 16) by default) so that ``exp`` cannot overflow. The order of the
arithmetic follows torchvision's term by term, because it decides the last bit.
"""
import math

import torch
from torch import Tensor

#: Largest log-scale change decode accepts: a box may grow at most 1000/16 = 62.5 times in one step.
DEFAULT_BBOX_XFORM_CLIP = math.log(1000.0 / 16)


@torch.jit.unused
def check_decode_inputs(rel_codes: Tensor, boxes: list[Tensor]) -> None:
    if not isinstance(boxes, (list, tuple)):
        raise TypeError(f"boxes must be a list or tuple of tensors (one per image), got {type(boxes).__name__}")
    if not isinstance(rel_codes, Tensor):
        raise TypeError(f"rel_codes must be a torch.Tensor, got {type(rel_codes).__name__}")


class BoxCoder:
    """Encodes boxes against reference boxes and decodes predicted deltas back to boxes."""

    def __init__(self, weights: tuple[float, float, float, float],
                 bbox_xform_clip: float = DEFAULT_BBOX_XFORM_CLIP) -> None:
        if len(weights) != 4:
            raise ValueError(f"weights must hold 4 numbers (wx, wy, ww, wh), got {weights}")
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes: list[Tensor], proposals: list[Tensor]) -> list[Tensor]:
        """Per image: the deltas that move each proposal onto its matched reference (ground-truth) box."""
        boxes_per_image = [b.shape[0] for b in reference_boxes]
        targets = self.encode_single(torch.cat(reference_boxes), torch.cat(proposals))
        return list(targets.split(boxes_per_image, 0))

    def encode_single(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        """Deltas ``[N, 4]`` that move ``proposals [N, 4]`` onto ``reference_boxes [N, 4]``."""
        if reference_boxes.shape != proposals.shape:
            raise ValueError(f"reference_boxes and proposals must have the same shape, got "
                             f"{list(reference_boxes.shape)} and {list(proposals.shape)}")
        weights = torch.as_tensor(self.weights, dtype=reference_boxes.dtype, device=reference_boxes.device)
        wx, wy, ww, wh = weights[0], weights[1], weights[2], weights[3]
        px1, py1, px2, py2 = proposals[:, 0:1], proposals[:, 1:2], proposals[:, 2:3], proposals[:, 3:4]
        gx1, gy1 = reference_boxes[:, 0:1], reference_boxes[:, 1:2]
        gx2, gy2 = reference_boxes[:, 2:3], reference_boxes[:, 3:4]
        ex_widths, ex_heights = px2 - px1, py2 - py1
        ex_ctr_x, ex_ctr_y = px1 + 0.5 * ex_widths, py1 + 0.5 * ex_heights
        gt_widths, gt_heights = gx2 - gx1, gy2 - gy1
        gt_ctr_x, gt_ctr_y = gx1 + 0.5 * gt_widths, gy1 + 0.5 * gt_heights
        dx = wx * (gt_ctr_x - ex_ctr_x) / ex_widths
        dy = wy * (gt_ctr_y - ex_ctr_y) / ex_heights
        dw = ww * torch.log(gt_widths / ex_widths)
        dh = wh * torch.log(gt_heights / ex_heights)
        return torch.cat((dx, dy, dw, dh), dim=1)

    def decode(self, rel_codes: Tensor, boxes: list[Tensor]) -> Tensor:
        """Applies ``rel_codes [sum(N_i), 4K]`` to the concatenated reference ``boxes``; returns ``[sum(N_i), K, 4]``."""
        if not torch.jit.is_scripting():
            check_decode_inputs(rel_codes, boxes)
        reference = torch.cat(boxes, dim=0)
        total = reference.shape[0]
        if torch.jit.is_tracing():  # the count is a traced value: no Python branch on it
            return self.decode_single(rel_codes.reshape(total, -1), reference).reshape(total, -1, 4)
        if total > 0:
            rel_codes = rel_codes.reshape(total, -1)
        pred_boxes = self.decode_single(rel_codes, reference)
        return pred_boxes.reshape(total, -1, 4) if total > 0 else pred_boxes

    def decode_single(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        """Applies deltas ``rel_codes [N, 4K]`` (K sets, e.g. one per class) to ``boxes [N, 4]``; returns ``[N, 4K]``."""
        boxes = boxes.to(rel_codes.dtype)
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights
        wx, wy, ww, wh = self.weights[0], self.weights[1], self.weights[2], self.weights[3]
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = torch.clamp(rel_codes[:, 2::4] / ww, max=self.bbox_xform_clip)
        dh = torch.clamp(rel_codes[:, 3::4] / wh, max=self.bbox_xform_clip)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        half_w = 0.5 * (torch.exp(dw) * widths[:, None])
        half_h = 0.5 * (torch.exp(dh) * heights[:, None])
        corners = (pred_ctr_x - half_w, pred_ctr_y - half_h, pred_ctr_x + half_w, pred_ctr_y + half_h)
        return torch.stack(corners, dim=2).flatten(1)
