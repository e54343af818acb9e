"""Prediction on large images by overlapping tiles, at the image's own resolution.

A 4000 x 3000 aerial or microscope image resized to a model's 800 px loses its small objects. Here the image is cut
into ``tile x tile`` windows that overlap by ``overlap`` pixels (the last window of a row or column is moved back to
end at the image's border), each window goes through the model with the model's resize at scale 1, and the
detections are moved back by their window's offset.

An object cut by a window's border is detected in pieces, one per window. Two pieces of the same class from
different windows are the same object when they agree on the pixels that both windows see: their mask IoU over the
two windows' shared region is at least ``merge_iou`` (box IoU over that region for a model without masks). Such
pieces become one instance: the union of their masks, the union of their boxes, the best piece's score. Box NMS
alone cannot do this: the pieces of a cut object have different boxes, and two touching objects can have
overlapping boxes.

Masks of the result are ``N x 1 x H x W`` bool (each piece cut at 0.5 in its window, then united), not
probabilities: a large image's masks are kept at a byte per pixel.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from ..roi_heads.mask_paste import MASK_THRESHOLD  # a piece's mask is cut where COCO evaluation cuts masks


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Window starts along one axis: every ``tile - overlap`` pixels, the last one moved back to end at ``length``."""
    if tile <= overlap:
        raise ValueError(f"the tile ({tile} px) must be larger than the overlap ({overlap} px)")
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def tile_windows(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """``(x1, y1, x2, y2)`` windows covering a ``height x width`` image, row by row."""
    return [(x, y, min(x + tile, width), min(y + tile, height))
            for y in tile_starts(height, tile, overlap) for x in tile_starts(width, tile, overlap)]


@contextmanager
def native_resolution(model: nn.Module, tile: int) -> Iterator[None]:
    """The model's transform resizes a window of at most ``tile`` px a side, with one side of ``tile`` px, at scale 1
    (``min_size = max_size = tile``); its settings are restored afterwards."""
    transform = model.transform
    saved = transform.min_size, transform.max_size
    transform.min_size, transform.max_size = (tile,), tile
    try:
        yield
    finally:
        transform.min_size, transform.max_size = saved


@dataclass
class Piece:
    """One window's detection, in image coordinates; ``mask`` is bool and covers ``mask_box`` ``(x1, y1, x2, y2)``."""
    window: tuple[int, int, int, int]
    box: Tensor
    label: int
    score: float
    mask: Optional[Tensor] = None
    mask_box: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class Instance:
    pieces: list[Piece] = field(default_factory=list)

    @property
    def label(self) -> int:
        return self.pieces[0].label

    @property
    def score(self) -> float:
        return max(piece.score for piece in self.pieces)


def _intersection(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> Optional[tuple[int, int, int, int]]:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x1, y1, x2, y2) if x1 < x2 and y1 < y2 else None


def _mask_in(piece: Piece, region: tuple[int, int, int, int]) -> Tensor:
    """``piece``'s mask over ``region`` (bool, False outside the piece's own mask box)."""
    x1, y1, x2, y2 = region
    out = torch.zeros((y2 - y1, x2 - x1), dtype=torch.bool)
    part = _intersection(piece.mask_box, region)
    if part is not None and piece.mask is not None:
        px, py = piece.mask_box[:2]
        out[part[1] - y1:part[3] - y1, part[0] - x1:part[2] - x1] = \
            piece.mask[part[1] - py:part[3] - py, part[0] - px:part[2] - px]
    return out


def shared_region_iou(a: Piece, b: Piece) -> float:
    """IoU of two pieces over the region both of their windows see: masks when both have one, else boxes."""
    shared = _intersection(a.window, b.window)
    if shared is None:
        return 0.0
    if a.mask is not None and b.mask is not None:
        mask_a, mask_b = _mask_in(a, shared), _mask_in(b, shared)
        union = int((mask_a | mask_b).sum())
        return int((mask_a & mask_b).sum()) / union if union else 0.0
    clipped = [_intersection(tuple(piece.box.tolist()), shared) for piece in (a, b)]
    if clipped[0] is None or clipped[1] is None:
        return 0.0
    inter = _intersection(clipped[0], clipped[1])
    area = [(c[2] - c[0]) * (c[3] - c[1]) for c in clipped]
    inter_area = 0.0 if inter is None else (inter[2] - inter[0]) * (inter[3] - inter[1])
    return inter_area / (area[0] + area[1] - inter_area)


def merge_pieces(pieces: list[Piece], merge_iou: float = 0.5) -> list[Instance]:
    """Greedy, best score first: a piece joins the instance of its class whose piece from another window agrees with
    it best (shared-region IoU >= ``merge_iou``), else starts an instance. Pieces of one window never join each other:
    the model's own NMS has already told them apart."""
    instances: list[Instance] = []
    for piece in sorted(pieces, key=lambda p: -p.score):
        best, best_iou = None, merge_iou
        for instance in instances:
            if instance.label != piece.label or any(p.window == piece.window for p in instance.pieces):
                continue
            iou = max(shared_region_iou(piece, other) for other in instance.pieces)
            if iou >= best_iou:
                best, best_iou = instance, iou
        if best is None:
            instances.append(Instance([piece]))
        else:
            best.pieces.append(piece)
    return instances


def _pieces_of(output: dict[str, Tensor], window: tuple[int, int, int, int]) -> list[Piece]:
    x0, y0 = window[:2]
    offset = torch.tensor([x0, y0, x0, y0], dtype=output["boxes"].dtype)
    pieces = []
    for k in range(len(output["scores"])):
        piece = Piece(window, output["boxes"][k].cpu() + offset, int(output["labels"][k]), float(output["scores"][k]))
        if "masks" in output:
            binary = output["masks"][k, 0].cpu() > MASK_THRESHOLD
            rows, cols = binary.any(1).nonzero()[:, 0], binary.any(0).nonzero()[:, 0]
            if len(rows):
                r1, r2, c1, c2 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
                piece.mask = binary[r1:r2, c1:c2].clone()
                piece.mask_box = (x0 + c1, y0 + r1, x0 + c2, y0 + r2)
            else:
                piece.mask = binary[:0, :0].clone()
                piece.mask_box = (x0, y0, x0, y0)
        pieces.append(piece)
    return pieces


def _union_box(instance: Instance) -> Tensor:
    boxes = torch.stack([piece.box for piece in instance.pieces])
    return torch.cat([boxes[:, :2].min(0).values, boxes[:, 2:].max(0).values])


def instances_to_output(instances: list[Instance], height: int, width: int, with_masks: bool) -> dict[str, Tensor]:
    """The model's output format (best score first); masks ``N x 1 x H x W`` bool."""
    instances = sorted(instances, key=lambda i: -i.score)
    boxes = torch.stack([_union_box(i) for i in instances]) if instances else torch.zeros((0, 4))
    output = {"boxes": boxes,
              "labels": torch.tensor([i.label for i in instances], dtype=torch.int64),
              "scores": torch.tensor([i.score for i in instances], dtype=torch.float32)}
    if with_masks:
        masks = torch.zeros((len(instances), 1, height, width), dtype=torch.bool)
        for k, instance in enumerate(instances):
            for piece in instance.pieces:
                x1, y1, x2, y2 = piece.mask_box
                masks[k, 0, y1:y2, x1:x2] |= piece.mask
        output["masks"] = masks
    return output


@torch.inference_mode()
def predict_tiled(model: nn.Module, image: Tensor, tile: int, overlap: int = 64, merge_iou: float = 0.5,
                  batch_size: int = 1) -> dict[str, Tensor]:
    """The model's detections on ``image`` (``3 x H x W``, the model's input) from overlapping ``tile`` px windows at
    the image's own resolution, cut objects merged (see the module's docstring). An image no larger than a tile is
    predicted whole, as ``model([image])`` would."""
    height, width = image.shape[-2:]
    if height <= tile and width <= tile:
        return {k: v.cpu() for k, v in model([image])[0].items()}
    windows = tile_windows(height, width, tile, overlap)
    pieces: list[Piece] = []
    with_masks = False
    with native_resolution(model, tile):
        for start in range(0, len(windows), batch_size):
            batch = windows[start:start + batch_size]
            outputs = model([image[:, y1:y2, x1:x2] for x1, y1, x2, y2 in batch])
            for window, output in zip(batch, outputs):
                with_masks = with_masks or "masks" in output
                pieces.extend(_pieces_of(output, window))
    return instances_to_output(merge_pieces(pieces, merge_iou), height, width, with_masks)
