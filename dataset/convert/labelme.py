"""LabelMe folders: one JSON per image, with ``shapes`` and the image's path relative to the JSON.

Shapes with an area become object parts: ``polygon`` (kept as a polygon), ``rectangle`` (two opposite corners ->
a 4-point polygon), ``circle`` (centre and a point on it -> a 64-point polygon) and ``mask`` (a base64 PNG covering
the box between its two points, inclusive, as LabelMe writes it -> RLE). Shapes with the same label and the same
``group_id`` are one object; a shape without ``group_id`` is an object of its own. Lines and points have no area
and are counted, not converted. Images in the folder without a JSON are not annotated, so they are left out.
"""
from __future__ import annotations

import base64
import glob
import json
import math
import os
from collections import OrderedDict

import cv2
import numpy as np

from ..errors import DatasetError
from ..image_io import IMAGE_EXTENSIONS
from .coco_builder import CocoBuilder

CIRCLE_POINTS = 64


def rectangle_polygon(points: list) -> list[float]:
    (x1, y1), (x2, y2) = points[0], points[1]
    x1, x2 = sorted((float(x1), float(x2)))
    y1, y2 = sorted((float(y1), float(y2)))
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def circle_polygon(points: list) -> list[float]:
    (cx, cy), (px, py) = points[0], points[1]
    radius = math.hypot(float(px) - float(cx), float(py) - float(cy))
    polygon = []
    for k in range(CIRCLE_POINTS):
        angle = 2 * math.pi * k / CIRCLE_POINTS
        polygon += [float(cx) + radius * math.cos(angle), float(cy) + radius * math.sin(angle)]
    return polygon


def mask_shape(shape: dict, width: int, height: int, path: str) -> np.ndarray:
    """The full-image binary mask of a LabelMe ``mask`` shape."""
    try:
        crop = cv2.imdecode(np.frombuffer(base64.b64decode(shape["mask"]), np.uint8), cv2.IMREAD_GRAYSCALE)
    except (TypeError, ValueError, KeyError) as error:
        raise DatasetError(f"{path}: a 'mask' shape whose mask cannot be decoded ({error})") from None
    if crop is None:
        raise DatasetError(f"{path}: a 'mask' shape whose mask is not a PNG")
    x1, y1 = (int(v) for v in shape["points"][0])
    mask = np.zeros((height, width), dtype=np.uint8)
    h, w = min(crop.shape[0], height - y1), min(crop.shape[1], width - x1)
    mask[y1:y1 + h, x1:x1 + w] = crop[:h, :w] > 0
    return mask


def read_labelme_file(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: not a readable LabelMe JSON ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list) or "imagePath" not in data:
        raise DatasetError(f"{path}: not a LabelMe JSON (expected 'shapes' and 'imagePath')")
    return data


def convert_labelme(folder: str) -> CocoBuilder:
    """Every ``*.json`` below ``folder`` (LabelMe files) as a :class:`CocoBuilder`."""
    if not os.path.isdir(folder):
        raise DatasetError(f"{folder}: not a folder (expected LabelMe JSON files)")
    builder = CocoBuilder()
    json_files = sorted(glob.glob(os.path.join(glob.escape(folder), "**", "*.json"), recursive=True))
    if not json_files:
        raise DatasetError(f"{folder}: no LabelMe JSON files")
    annotated = set()
    for path in json_files:
        data = read_labelme_file(path)
        image_path = os.path.normpath(os.path.join(os.path.dirname(path), data["imagePath"]))
        if not os.path.isfile(image_path):
            builder.report.labels_without_image.append(os.path.relpath(path, folder))
            continue
        annotated.add(image_path)
        index = builder.add_image(image_path)
        width, height = builder.size_of(index)
        objects: "OrderedDict[tuple, dict]" = OrderedDict()
        for k, shape in enumerate(data["shapes"]):
            kind = shape.get("shape_type") or "polygon"
            points = shape.get("points") or []
            key = (shape.get("label"), shape["group_id"]) if shape.get("group_id") is not None else (k,)
            part = objects.setdefault(key, {"name": str(shape.get("label")), "polygons": [], "mask": None})
            if kind == "polygon":
                part["polygons"].append([float(v) for point in points for v in point])
            elif kind == "rectangle" and len(points) == 2:
                part["polygons"].append(rectangle_polygon(points))
            elif kind == "circle" and len(points) == 2:
                part["polygons"].append(circle_polygon(points))
            elif kind == "mask" and len(points) == 2:
                mask = mask_shape(shape, width, height, path)
                part["mask"] = mask if part["mask"] is None else np.maximum(part["mask"], mask)
            else:
                builder.report.ignored_shapes[kind] = builder.report.ignored_shapes.get(kind, 0) + 1
        for obj in objects.values():
            builder.add_object(index, obj["name"], obj["polygons"], obj["mask"])
    unlabelled = [p for p in glob.glob(os.path.join(glob.escape(folder), "**", "*"), recursive=True)
                  if p.lower().endswith(IMAGE_EXTENSIONS) and os.path.normpath(p) not in annotated]
    if unlabelled:
        builder.report.images_without_labels = len(unlabelled)
        builder.report.notes.append(f"{len(unlabelled)} images in {folder} have no LabelMe file: not annotated, so "
                                    f"left out")
    return builder
