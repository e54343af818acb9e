"""Exact greedy non-maximum suppression written with tensor operations.

Greedy NMS visits boxes by decreasing score and keeps a box unless a box kept before it overlaps it with
IoU > threshold (strictly greater suppresses; equal keeps). Ties in score are visited in index order.

The sequential dependency is resolved without a per-box Python loop:

* Boxes are processed in blocks of ``BLOCK`` candidates. Inside a block the greedy decisions are the unique fixed
  point of ``keep[j] = not any(keep[i] and suppresses(i, j) for i < j)``; iterating that equation from "keep all"
  fixes at least one more leading position per pass, so it reaches the answer in (longest suppression chain + 1)
  passes, each one tensor operation on a ``BLOCK x BLOCK`` matrix.
* The boxes a block keeps then remove, in one comparison, every later candidate they overlap, so later blocks only
  hold boxes that are still alive.

IoU is evaluated term by term as torchvision's kernel does (``inter / (area_i + area_j - inter)`` in the boxes'
dtype) and compared with the threshold as its C++ ``float > double`` comparison does, so decisions at
IoU == threshold agree bit for bit. Half-precision and integer boxes are compared in float32.

Scripted (``torch.jit.script``), traced or captured for export, :func:`nms` and :func:`batched_nms` are torchvision's, whose
results these equal (its kernel is the reference); its ``nms`` exports as ONNX ``NonMaxSuppression``.
"""
from typing import Optional

import torch
import torchvision
from torch import Tensor

#: Candidates resolved together. Measured with ``tools/benchmark.py nms`` on 2 CPU threads, 256 beat 128 (more
#: Python iterations) and 512 (a costlier BLOCK x BLOCK fixed point) on every workload.
BLOCK = 256


class NMSInputError(ValueError, RuntimeError):
    """Boxes, scores or categories of the wrong shape: a ``ValueError`` (ours) that is also the ``RuntimeError``
    torchvision's C++ check raises, so code catching either keeps working."""


def _check_nms_inputs(boxes: Tensor, scores: Tensor, idxs: Optional[Tensor] = None) -> None:
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise NMSInputError(f"boxes must have shape [N, 4], got {list(boxes.shape)}")
    if scores.dim() != 1:
        raise NMSInputError(f"scores must have shape [N], got {list(scores.shape)}")
    if boxes.shape[0] != scores.shape[0]:
        raise NMSInputError(f"boxes and scores must have the same length, got {boxes.shape[0]} and {scores.shape[0]}")
    if idxs is not None and (idxs.dim() != 1 or idxs.shape[0] != boxes.shape[0]):
        raise NMSInputError(f"idxs must have shape [{boxes.shape[0]}] to match boxes, got {list(idxs.shape)}")


def _as_nms_dtype(boxes: Tensor) -> Tensor:
    return boxes if boxes.dtype in (torch.float32, torch.float64) else boxes.float()


def _threshold_below(threshold: float, dtype: torch.dtype) -> float:
    """The largest value of ``dtype`` that is <= ``threshold``.

    For IoU values ``v`` of that dtype, ``v > threshold`` in float64 (torchvision's C++ ``float > double``) holds
    exactly when ``v > _threshold_below(threshold, dtype)`` in the dtype itself, which saves a float64 copy.
    """
    t = torch.tensor(threshold, dtype=dtype)
    if t.item() > threshold:
        t = torch.nextafter(t, torch.tensor(float("-inf"), dtype=dtype))
    return t.item()


class _SortedBoxes:
    """Boxes in visiting order with their areas, as one ``[5, N]`` table (a set of boxes is one index operation)."""

    def __init__(self, table: Tensor, threshold: float) -> None:
        self.table = table
        self.threshold = threshold

    @classmethod
    def of(cls, boxes: Tensor, threshold: float) -> "_SortedBoxes":
        x1, y1, x2, y2 = boxes.unbind(1)
        return cls(torch.stack((x1, y1, x2, y2, (x2 - x1) * (y2 - y1))), _threshold_below(threshold, boxes.dtype))

    def subset(self, positions: Tensor) -> "_SortedBoxes":
        return _SortedBoxes(self.table[:, positions], self.threshold)

    def __len__(self) -> int:
        return self.table.shape[1]

    def overlaps(self, rows: Tensor, cols: Tensor) -> Tensor:
        """``[len(rows), len(cols)]`` bool: IoU(rows[a], cols[b]) > threshold.

        IoU is symmetric bit for bit (min, max, products and the sum of two areas all commute), so either argument
        may hold the higher-scoring boxes.
        """
        return self._over(self.table[:, rows, None], self.table[:, cols])

    def overlaps_within(self, sets: Tensor) -> Tensor:
        """``[B, G, G]`` bool for ``sets [B, G]`` of positions: the same test among the boxes of each set."""
        boxes = self.table[:, sets]
        return self._over(boxes[..., None], boxes[:, :, None, :])

    def _over(self, r: Tensor, c: Tensor) -> Tensor:
        rx1, ry1, rx2, ry2, rarea = r
        cx1, cy1, cx2, cy2, carea = c
        w = torch.minimum(rx2, cx2).sub_(torch.maximum(rx1, cx1)).clamp_(min=0)
        h = torch.minimum(ry2, cy2).sub_(torch.maximum(ry1, cy1)).clamp_(min=0)
        inter = w.mul_(h)
        union = torch.add(rarea, carea).sub_(inter)
        return inter.div_(union) > self.threshold


def _greedy_fixed_point(suppressed_by: Tensor) -> Tensor:
    """Greedy keep mask ``[..., G]`` for blocks ``suppressed_by [..., G, G]``; entry ``[j, i]`` (only for i < j)
    says box i would suppress box j. Leading dimensions are independent blocks, solved together."""
    weights = suppressed_by.to(torch.float32)
    keep = torch.ones(suppressed_by.shape[:-1], dtype=torch.float32, device=suppressed_by.device)
    while True:
        # keep[j] = no kept earlier box suppresses j; a mat-vec product counts the kept suppressors.
        updated = ((weights @ keep[..., None])[..., 0] == 0).to(torch.float32)
        if torch.equal(updated, keep):
            return keep.bool()
        keep = updated


def _greedy_nms_in_order(sorted_boxes: _SortedBoxes) -> Tensor:
    """Positions (into the visiting order) of the boxes greedy NMS keeps, ascending."""
    candidates = torch.arange(len(sorted_boxes), device=sorted_boxes.table.device)
    kept = []
    while candidates.numel() > 0:
        block, rest = candidates[:BLOCK], candidates[BLOCK:]
        winners = block[_greedy_fixed_point(sorted_boxes.overlaps(block, block).tril_(diagonal=-1))]
        kept.append(winners)
        if rest.numel() > 0:
            rest = rest[~sorted_boxes.overlaps(rest, winners).any(dim=1)]
        candidates = rest
    return torch.cat(kept) if kept else candidates


#: Small groups are solved side by side, padded to the largest one, in chunks of at most this many IoU entries.
GROUPS_CHUNK_ENTRIES = 1 << 22


def _greedy_nms_small_groups(sorted_boxes: _SortedBoxes, starts: Tensor, counts: Tensor) -> Tensor:
    """Kept positions of groups of at most BLOCK boxes each (``starts``/``counts`` into the visiting order).

    Each group is one fixed-point block, padded to the largest group with copies of its last box; padding sits after
    every real box, so it never suppresses one (only earlier boxes suppress) and is dropped at the end.
    """
    size = int(counts.max())
    offsets = torch.arange(size, device=starts.device)
    kept = []
    per_chunk = max(1, GROUPS_CHUNK_ENTRIES // (size * size))
    for first in range(0, starts.shape[0], per_chunk):
        chunk_starts, chunk_counts = starts[first:first + per_chunk], counts[first:first + per_chunk]
        real = offsets < chunk_counts[:, None]
        sets = chunk_starts[:, None] + torch.minimum(offsets, chunk_counts[:, None] - 1)
        keep = _greedy_fixed_point(sorted_boxes.overlaps_within(sets).tril_(diagonal=-1))
        kept.append(sets[keep & real])
    return torch.cat(kept)


@torch.jit.unused
def _compiling() -> bool:
    """Under ``torch.export`` / ``torch.compile``: a graph is being captured."""
    return torch.compiler.is_compiling()


def graph_batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Batched NMS as one ``torchvision.ops.nms`` (ONNX ``NonMaxSuppression``): each category's boxes are shifted
    by ``category * (largest coordinate + 1)`` so that categories never overlap (torchvision's coordinate trick).
    Written without a branch on the number of boxes, so a captured graph takes any number, none included."""
    largest = torch.cat([boxes.flatten(), boxes.new_zeros(1)]).max()
    shifted = boxes + (idxs.to(boxes) * (largest + 1))[:, None]
    return torchvision.ops.nms(shifted, scores, iou_threshold)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS over ``boxes [N, 4]`` (xyxy) with ``scores [N]``.

    Returns the int64 indices of the kept boxes, by decreasing score (ties: lower index first), exactly as
    ``torchvision.ops.nms`` on CPU. Quantized boxes and scores go to torchvision's quantized kernel.
    """
    if torch.jit.is_scripting() or torch.jit.is_tracing() or _compiling() or boxes.is_quantized:
        return torchvision.ops.nms(boxes, scores, iou_threshold)
    return _blocked_nms(boxes, scores, iou_threshold)


@torch.jit.unused
def _blocked_nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    _check_nms_inputs(boxes, scores)
    order = torch.sort(scores, descending=True, stable=True)[1]
    positions = _greedy_nms_in_order(_SortedBoxes.of(_as_nms_dtype(boxes)[order], iou_threshold))
    return order[positions]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS applied independently within each category ``idxs [N]``.

    Returns the kept indices by decreasing score (ties: lower index first). The kept set equals running ``nms``
    once per category. torchvision instead shifts boxes by ``category * (max + 1)`` for small inputs (which can
    perturb IoU in the last bits) and loops per category for large ones (where tied scores come out in an
    unspecified order); we do neither. Empty input of any shape gives an empty result, as torchvision's does.
    """
    if torch.jit.is_scripting() or torch.jit.is_tracing() or _compiling():
        return graph_batched_nms(boxes, scores, idxs, iou_threshold)
    return _blocked_batched_nms(boxes, scores, idxs, iou_threshold)


@torch.jit.unused
def _blocked_batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    _check_nms_inputs(boxes, scores, idxs)
    # Visit category by category, each by decreasing score: categories never interact, so each is its own greedy
    # run. Many small categories (the box head's) are solved side by side; large ones (RPN levels) block by block.
    by_score = torch.sort(scores, descending=True, stable=True)[1]
    order = by_score[torch.sort(idxs[by_score], stable=True)[1]]
    sorted_boxes = _SortedBoxes.of(_as_nms_dtype(boxes)[order], iou_threshold)
    counts = torch.unique_consecutive(idxs[order], return_counts=True)[1]
    starts = torch.cumsum(counts, 0) - counts
    small = counts <= BLOCK
    positions = [_greedy_nms_small_groups(sorted_boxes, starts[small], counts[small])] if bool(small.any()) else []
    for start, count in zip(starts[~small].tolist(), counts[~small].tolist()):
        group = torch.arange(start, start + count, device=boxes.device)
        positions.append(group[_greedy_nms_in_order(sorted_boxes.subset(group))])
    kept = order[torch.cat(positions)]
    kept = torch.sort(kept)[0]
    return kept[torch.sort(scores[kept], descending=True, stable=True)[1]]
