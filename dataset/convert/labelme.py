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
        objects: OrderedDict[tuple, dict] = OrderedDict()
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


def write_labelme_folder(ann_file: str, image_dir: str, out: str, limit: int | None = None) -> int:
    """The inverse direction: a COCO instances file as a LabelMe folder (``out/images``, ``out/labels/*.json``).

    Polygon objects become ``polygon`` shapes (a multi-part object shares a ``group_id``); RLE objects become
    LabelMe ``mask`` shapes over their box. Crowd regions are left out. Returns the number of images written.
    """
    import shutil

    from pycocotools import mask as mask_utils

    from ..coco import load_coco
    from ..coco_masks import segmentation_to_rle

    coco = load_coco(ann_file)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "labels"), exist_ok=True)
    image_ids = sorted(coco.imgs)[:limit]
    for image_id in image_ids:
        info = coco.imgs[image_id]
        height, width = int(info["height"]), int(info["width"])
        shapes, group = [], 0
        for ann in coco.imgToAnns.get(image_id, []):
            if ann.get("iscrowd", 0):
                continue
            label = coco.cats[ann["category_id"]]["name"]
            segmentation = ann["segmentation"]
            if isinstance(segmentation, list):
                group += len(segmentation) > 1
                for part in segmentation:
                    shapes.append({"label": label, "points": [[part[i], part[i + 1]] for i in range(0, len(part), 2)],
                                   "group_id": group if len(segmentation) > 1 else None, "shape_type": "polygon",
                                   "flags": {}})
                continue
            mask = mask_utils.decode(segmentation_to_rle(segmentation, height, width))
            ys, xs = np.nonzero(mask)
            if not len(xs):
                continue
            x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
            png = cv2.imencode(".png", (mask[y1:y2 + 1, x1:x2 + 1] * 255).astype(np.uint8))[1].tobytes()
            shapes.append({"label": label, "points": [[x1, y1], [x2, y2]], "group_id": None, "shape_type": "mask",
                           "mask": base64.b64encode(png).decode("ascii"), "flags": {}})
        shutil.copyfile(os.path.join(image_dir, info["file_name"]), os.path.join(out, "images", info["file_name"]))
        stem = os.path.splitext(info["file_name"])[0]
        with open(os.path.join(out, "labels", f"{stem}.json"), "w") as f:
            json.dump({"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": f"../images/{info['file_name']}",
                       "imageData": None, "imageHeight": height, "imageWidth": width}, f)
    return len(image_ids)
