"""Building a COCO instances file from images and labelled objects, whatever format they came from.

Conventions of the written file:

* categories get ids from 1, in name order, with the source's names exactly (``"Cat"`` and ``"cat"`` stay two
  categories; the report says so);
* ``file_name`` is relative to the image folder (the one folder that holds every image, perhaps in subfolders);
* polygons stay polygons (``[[x1, y1, x2, y2, ...], ...]``, one list per part), masks become compressed RLE;
* ``bbox`` (``[x, y, w, h]``) and ``area`` are computed from the rasterised mask (pycocotools), not taken from the
  source, so they agree with what training reads.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import DatasetError
from ..image_io import image_size

Polygon = list[float]  # x1, y1, x2, y2, ... in pixels


@dataclass
class ConversionReport:
    """What a conversion kept and what it left out, for the tool's summary and for tests."""
    images: int = 0
    objects: int = 0
    labels_without_image: list[str] = field(default_factory=list)
    images_without_labels: int = 0  # what became of them depends on the format: see ``notes``
    small_polygons: int = 0          # polygons (or parts) with fewer than 3 points, dropped
    empty_objects: int = 0           # objects whose mask covers no pixel, dropped
    box_only: int = 0                # YOLO lines with a box only: written as rectangles
    ignored_shapes: dict[str, int] = field(default_factory=dict)  # LabelMe shape types without an area
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        found = [f"{self.images} images, {self.objects} objects"]
        if self.labels_without_image:
            shown = ", ".join(self.labels_without_image[:3]) + (" ..." if len(self.labels_without_image) > 3 else "")
            found.append(f"{len(self.labels_without_image)} label files without an image, left out ({shown})")
        if self.small_polygons:
            found.append(f"{self.small_polygons} polygons with fewer than 3 points, dropped")
        if self.empty_objects:
            found.append(f"{self.empty_objects} objects covering no pixel, dropped")
        if self.box_only:
            found.append(f"{self.box_only} box-only labels, written as rectangle masks")
        for kind, count in sorted(self.ignored_shapes.items()):
            found.append(f"{count} '{kind}' shapes (no area), ignored")
        return found + self.notes


@dataclass
class _Image:
    path: str
    width: int
    height: int
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (category name, segmentation info)


def valid_polygons(polygons: Sequence[Sequence[float]], report: ConversionReport) -> list[Polygon]:
    """Polygons with at least 3 points, coordinates as floats; the others are counted and dropped."""
    kept = []
    for polygon in polygons:
        if len(polygon) >= 6 and len(polygon) % 2 == 0:
            kept.append([round(float(v), 2) for v in polygon])
        else:
            report.small_polygons += 1
    return kept


class CocoBuilder:
    """Collects images and their objects, then writes them as one COCO file or a train/val pair."""

    def __init__(self) -> None:
        self.report = ConversionReport()
        self._images: list[_Image] = []

    def add_image(self, path: str) -> int:
        """Registers an image (its size read from the file); returns its index for :meth:`add_object`."""
        width, height = image_size(path)
        self._images.append(_Image(os.path.abspath(path), width, height))
        return len(self._images) - 1

    def size_of(self, index: int) -> tuple[int, int]:
        image = self._images[index]
        return image.width, image.height

    def add_object(self, index: int, name: str, polygons: Sequence[Polygon] = (),
                   mask: Optional[np.ndarray] = None) -> None:
        """One object of category ``name``: polygon parts (kept as polygons) and/or a binary ``H x W`` mask (their
        union is stored as RLE when a mask is given)."""
        image = self._images[index]
        polygons = valid_polygons(polygons, self.report)
        if not polygons and mask is None:
            return
        if mask is not None and polygons:
            rasterised = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, image.height,
                                                                                   image.width)))
            mask = np.maximum(mask.astype(np.uint8), rasterised)
        if mask is not None:
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            segmentation: Any = {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
        else:
            rle = mask_utils.merge(mask_utils.frPyObjects(polygons, image.height, image.width))
            segmentation = polygons
        area = float(mask_utils.area(rle))
        if area <= 0:
            self.report.empty_objects += 1
            return
        bbox = [round(float(v), 2) for v in mask_utils.toBbox(rle)]
        image.objects.append((name, {"segmentation": segmentation, "area": area, "bbox": bbox}))

    def image_root(self) -> str:
        """The one folder holding every image (``file_name`` is relative to it)."""
        if not self._images:
            raise DatasetError("no images found to convert")
        return os.path.commonpath([os.path.dirname(image.path) for image in self._images])

    def category_names(self) -> list[str]:
        return sorted({name for image in self._images for name, _ in image.objects})

    def case_clashes(self) -> list[tuple[str, str]]:
        names = self.category_names()
        return [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if a.lower() == b.lower()]

    def to_coco(self, indices: Optional[Sequence[int]] = None) -> dict[str, Any]:
        """The COCO dict of the images ``indices`` (all by default); categories are always all of them, so a
        train/val pair has the same category ids."""
        root = self.image_root()
        category_ids = {name: i + 1 for i, name in enumerate(self.category_names())}
        images, annotations = [], []
        for image_id, index in enumerate(sorted(indices) if indices is not None else range(len(self._images)), 1):
            image = self._images[index]
            images.append({"id": image_id, "file_name": os.path.relpath(image.path, root).replace(os.sep, "/"),
                           "width": image.width, "height": image.height})
            for name, info in image.objects:
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": category_ids[name], "iscrowd": 0, **info})
        categories = [{"id": i, "name": name, "supercategory": ""} for name, i in category_ids.items()]
        return {"info": {"description": "converted by maskrcnn's tools/convert.py"}, "images": images,
                "annotations": annotations, "categories": categories}

    def finish_report(self) -> ConversionReport:
        self.report.images = len(self._images)
        self.report.objects = sum(len(image.objects) for image in self._images)
        for a, b in self.case_clashes():
            self.report.notes.append(f"categories {a!r} and {b!r} differ only in case: they stay two categories")
        return self.report

    def __len__(self) -> int:
        return len(self._images)


def split_indices(count: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A deterministic ``(train, val)`` split of ``range(count)``: the same seed gives the same split."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    val_count = min(count - 1, max(1, round(val_fraction * count))) if val_fraction > 0 and count > 1 else 0
    return sorted(order[val_count:]), sorted(order[:val_count])
