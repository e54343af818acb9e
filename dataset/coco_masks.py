"""COCO segmentations -> binary masks, through pycocotools.

A COCO ``segmentation`` is one of three things:

* polygons: a list of parts ``[[x1, y1, x2, y2, ...], ...]`` in pixel coordinates; an object in several pieces
  (occluded, or a donut cut open) has several parts, which are merged into one mask;
* uncompressed RLE: ``{"size": [h, w], "counts": [run, run, ...]}`` (column-major runs, starting with zeros), what
  COCO uses for crowd regions;
* compressed RLE: the same with ``counts`` as a string (pycocotools' own encoding), what results files hold.

A polygon part needs at least 3 points (6 numbers, an even count); shorter parts are dropped and counted, never a crash.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
from pycocotools import mask as coco_mask


def is_valid_polygon(part: Any) -> bool:
    return isinstance(part, (list, tuple)) and len(part) >= 6 and len(part) % 2 == 0


def split_polygon_parts(segmentation: Sequence[Any]) -> tuple[list[list[float]], int]:
    """The usable polygon parts of a segmentation, and how many parts were dropped as invalid."""
    parts = [list(map(float, part)) for part in segmentation if is_valid_polygon(part)]
    return parts, len(segmentation) - len(parts)


def is_rle(segmentation: Any) -> bool:
    return isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation


def segmentation_to_rle(segmentation: Any, height: int, width: int) -> dict:
    """One compressed RLE for a segmentation of any of the three kinds (invalid polygon parts left out)."""
    if is_rle(segmentation):
        if isinstance(segmentation["counts"], list):  # uncompressed: pycocotools compresses it
            return coco_mask.frPyObjects(segmentation, height, width)
        counts = segmentation["counts"]
        return {"size": list(segmentation["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}
    parts, _ = split_polygon_parts(segmentation)
    return coco_mask.merge(coco_mask.frPyObjects(parts, height, width))


def segmentation_to_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """``height x width`` uint8 mask (0/1) of one annotation."""
    return coco_mask.decode(segmentation_to_rle(segmentation, height, width)).astype(np.uint8, copy=False)


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary ``H x W`` mask, with ``counts`` as a str (JSON-ready)."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """A binary ``H x W`` mask as COCO polygon parts ``[[x1, y1, x2, y2, ...], ...]``, one per outer contour
    (OpenCV's, every boundary pixel kept). Contour points are pixel indices; ``+ 0.5`` puts them at pixel centres in
    COCO's continuous coordinates. Polygons cannot hold holes: a ring comes back filled. Parts of fewer than 3 points
    (a 1-2 pixel speck) are left out."""
    contours, _ = cv2.findContours(np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    return [[round(float(v) + 0.5, 2) for v in contour.reshape(-1)] for contour in contours if len(contour) >= 3]
