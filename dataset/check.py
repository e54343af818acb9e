"""Checking a COCO instances file and its images before training: what would fail, and what would be lost.

Reads the JSON itself (pycocotools' index would silently keep one of two images with the same id). Errors are what
makes training fail or train on the wrong thing: images missing, unreadable or not the size the file says,
duplicate image ids, annotations naming an image or category that does not exist, no usable object at all.
Warnings are what training works around: boxes reaching outside their image (clipped), boxes without area and
polygons with fewer than 3 points (dropped), categories without objects (a class the model never sees), images
without objects (kept as negatives only with ``--keep-empty``).

In a keypoint file (a category names ``keypoints``): an error for an object whose ``keypoints`` are not x, y, v for
each named keypoint, or whose visibility is not 0, 1 or 2; a warning for labelled points outside their object's box
(the keypoint head learns only points inside the box: those are lost) and for a ``num_keypoints`` that does not
count the labelled points.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .coco import read_json
from .coco_masks import is_rle, is_valid_polygon
from .errors import DatasetError
from .image_io import image_size

#: A box may reach this far (pixels) past the image border before it counts as outside (rounding in exports).
BORDER_TOLERANCE = 1.0


@dataclass
class DataCheck:
    """The findings on one annotation file."""
    ann_file: str
    image_dir: str
    images: int = 0
    objects: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    objects_per_category: dict[tuple[int, str], int] = field(default_factory=dict)
    #: per image (with at least one usable object): its size ``(h, w)`` and its boxes ``[[x1, y1, x2, y2], ...]``
    boxes_by_image: list[tuple[tuple[int, int], list[list[float]]]] = field(default_factory=list)

    def problem(self, kind: str, what: str, examples: list[str]) -> None:
        """Records ``what`` (e.g. "3 images missing") with the first few examples, if there are any."""
        if examples:
            shown = "; ".join(examples[:3]) + (f"; and {len(examples) - 3} more" if len(examples) > 3 else "")
            (self.errors if kind == "error" else self.warnings).append(f"{what}: {shown}")


def check_coco(ann_file: str, image_dir: str, check_images: bool = True) -> DataCheck:
    data = read_json(ann_file, "annotation file", kind="COCO JSON")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations", "categories")):
        raise DatasetError(f"{ann_file}: expected a COCO instances file with 'images', 'annotations' and "
                           f"'categories' lists")
    report = DataCheck(ann_file, image_dir, images=len(data["images"]), objects=len(data["annotations"]))
    image_ids = Counter(image.get("id") for image in data["images"])
    report.problem("error", f"{sum(1 for n in image_ids.values() if n > 1)} duplicate image ids",
                   [f"id {i} ({n} images)" for i, n in image_ids.items() if n > 1])
    images = {image.get("id"): image for image in data["images"]}
    categories = {c.get("id"): str(c.get("name")) for c in data["categories"]}
    if check_images:
        _check_image_files(data["images"], image_dir, report)
    per_category: Counter = Counter()
    outside, no_area, small, unknown, has_objects = [], [], [], [], set()
    boxes: dict[Any, list[list[float]]] = {}
    for ann in data["annotations"]:
        image = images.get(ann.get("image_id"))
        if image is None or ann.get("category_id") not in categories:
            unknown.append(f"annotation {ann.get('id')} (image {ann.get('image_id')}, category "
                           f"{ann.get('category_id')})")
            continue
        if ann.get("iscrowd", 0):
            continue
        per_category[ann["category_id"]] += 1
        has_objects.add(ann["image_id"])
        x, y, w, h = (ann.get("bbox") or [0, 0, 0, 0])[:4]
        if w > 0 and h > 0:
            boxes.setdefault(ann["image_id"], []).append([x, y, x + w, y + h])
        if w <= 0 or h <= 0:
            no_area.append(f"annotation {ann.get('id')} of {image.get('file_name')}")
        elif (x < -BORDER_TOLERANCE or y < -BORDER_TOLERANCE or x + w > image.get("width", 0) + BORDER_TOLERANCE
              or y + h > image.get("height", 0) + BORDER_TOLERANCE):
            outside.append(f"annotation {ann.get('id')} of {image.get('file_name')} ({image.get('width')}x"
                           f"{image.get('height')}): bbox {[round(v, 1) for v in (x, y, w, h)]}")
        segmentation = ann.get("segmentation")
        if isinstance(segmentation, list):
            bad_parts = sum(1 for part in segmentation if not is_valid_polygon(part))
            if bad_parts:
                small.append(f"annotation {ann.get('id')} of {image.get('file_name')}"
                             + (" (no valid part left)" if bad_parts == len(segmentation) else ""))
        elif not is_rle(segmentation):
            small.append(f"annotation {ann.get('id')} of {image.get('file_name')} (no segmentation)")
    report.problem("error", f"{len(unknown)} annotations name an image or category the file does not list", unknown)
    _check_keypoints(data, report)
    report.problem("warning", f"{len(outside)} boxes reach outside their image (clipped in training)", outside)
    report.problem("warning", f"{len(no_area)} boxes without area (dropped in training)", no_area)
    report.problem("warning", f"{len(small)} objects with degenerate polygons (parts with fewer than 3 points are "
                              f"dropped in training)", small)
    empty_categories = [f"{name} (id {i})" for i, name in categories.items() if not per_category[i]]
    report.problem("warning", f"{len(empty_categories)} categories without objects (never learned)",
                   empty_categories)
    empty_images = [str(image.get("file_name")) for image in data["images"] if image.get("id") not in has_objects]
    report.problem("warning", f"{len(empty_images)} images without objects (left out of training unless "
                              f"empty images are kept)", empty_images)
    if report.images == 0 or not has_objects:
        report.errors.append("no image with an object: nothing to train on")
    report.objects_per_category = {(i, name): per_category[i] for i, name in sorted(categories.items())}
    report.boxes_by_image = [((int(images[i].get("height", 0)), int(images[i].get("width", 0))), b)
                             for i, b in boxes.items()]
    return report


def _check_keypoints(data: dict[str, Any], report: DataCheck) -> None:
    names = next((c["keypoints"] for c in data["categories"] if c.get("keypoints")), None)
    if not names:
        return
    count = len(names)
    wrong_length, bad_flags, outside, miscounted = [], [], [], []
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        label = f"annotation {ann.get('id')} (image {ann.get('image_id')})"
        values = ann.get("keypoints")
        if not isinstance(values, list) or len(values) != 3 * count:
            wrong_length.append(f"{label}: {len(values) if isinstance(values, list) else 'no'} numbers")
            continue
        flags = values[2::3]
        if any(v not in (0, 1, 2) for v in flags):
            bad_flags.append(f"{label}: {sorted(set(flags) - {0, 1, 2})}")
            continue
        x, y, w, h = (ann.get("bbox") or [0, 0, 0, 0])[:4]
        off = [names[k] for k, (px, py, v) in enumerate(zip(values[0::3], values[1::3], flags))
               if v and not (x <= px <= x + w and y <= py <= y + h)]
        if off:
            outside.append(f"{label}: {', '.join(off[:3])}")
        if "num_keypoints" in ann and ann["num_keypoints"] != sum(1 for v in flags if v):
            miscounted.append(f"{label}: num_keypoints {ann['num_keypoints']}, {sum(1 for v in flags if v)} labelled")
    report.problem("error", f"{len(wrong_length)} objects without {3 * count} keypoint numbers (x, y, visibility for "
                            f"each of {count})", wrong_length)
    report.problem("error", f"{len(bad_flags)} objects with keypoint visibility other than 0, 1, 2", bad_flags)
    report.problem("warning", f"{len(outside)} objects with labelled keypoints outside their box (not learned)",
                   outside)
    report.problem("warning", f"{len(miscounted)} objects whose num_keypoints does not count their labelled points",
                   miscounted)


def _check_image_files(images: list[dict[str, Any]], image_dir: str, report: DataCheck) -> None:
    missing, unreadable, wrong_size = [], [], []
    for image in images:
        path = os.path.join(image_dir, str(image.get("file_name")))
        if not os.path.isfile(path):
            missing.append(path)
            continue
        try:
            width, height = image_size(path)
        except DatasetError:
            unreadable.append(path)
            continue
        if (width, height) != (image.get("width"), image.get("height")):
            wrong_size.append(f"{path} is {width}x{height}, the file says {image.get('width')}x"
                              f"{image.get('height')}")
    report.problem("error", f"{len(missing)} images missing", missing)
    report.problem("error", f"{len(unreadable)} images unreadable", unreadable)
    report.problem("error", f"{len(wrong_size)} images not the size the file says", wrong_size)
