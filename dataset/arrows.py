"""The built-in keypoint dataset ("arrows"): arrows with four keypoints each, among unlabelled shapes, no download.

The keypoint counterpart of :mod:`dataset.shapes` (same backgrounds, colours, occlusion rule and COCO-2017 layout),
written as a COCO *person keypoints* file: one category, ``arrow``, that names its keypoints, and annotations with
``keypoints`` ``[x, y, v] * 4`` and ``num_keypoints`` next to their box and mask, so a Keypoint R-CNN (or a Mask
R-CNN) trains on it with the same tools as on ``person_keypoints_train2017.json``.

The four keypoints are ``tip``, ``left_barb``, ``right_barb`` and ``tail`` (the middle of the back edge). An arrow
has a direction, so each point is told apart under any rotation, and its barbs have sides: seen along the arrow,
``left_barb`` is on the left. A mirror image swaps them, as a person's left and right, which is what the flip
augmentation's left/right rule (:func:`dataset.keypoints.flip_permutation`) does with these names.

Visibility follows COCO: 1 where a later shape covers the point (it is still labelled: its place is known), else
2. A shape may hide a point only where the point stays by the box of the arrow's visible pixels; that box is widened
to hold the keypoints (a polygon's corner lies just outside its rasterised pixels). Arrows lie wholly inside the
image, so no point is 0. Squares, circles, triangles and stars of the shapes set are drawn among them, unlabelled:
the detector must find the arrows, not just any shape. Each category carries ``keypoint_sigmas`` (COCOeval's
per-keypoint OKS constants; COCO's own are 0.025-0.107): 0.05 for the three corners, 0.07 for the tail, whose place
along a straight edge is less sharp.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .shapes import (
    ShapesConfig,
    ensure_generated,
    fits_on_top,
    object_annotation,
    paint,
    place_object,
    polygon_mask,
    put_on_top,
    textured_background,
    write_coco_split,
    write_dataset,
)

KEYPOINT_NAMES = ("tip", "left_barb", "right_barb", "tail")
#: COCOeval's OKS constant per keypoint (written into the category as ``keypoint_sigmas``).
KEYPOINT_SIGMAS = (0.05, 0.05, 0.05, 0.07)
#: Lines drawn between keypoints (1-based, COCO's ``skeleton`` convention).
SKELETON = ((1, 2), (1, 3), (1, 4))
ARROW_CATEGORY = {"id": 1, "name": "arrow", "supercategory": "shape", "keypoints": list(KEYPOINT_NAMES),
                  "skeleton": [list(pair) for pair in SKELETON], "keypoint_sigmas": list(KEYPOINT_SIGMAS)}
#: An arrow's shaft half-width, head length and head half-width, as fractions of its length.
SHAFT, HEAD_LENGTH, HEAD_WIDTH = 0.12, 0.4, 0.3
DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL = 400, 60
DATASET_VERSION = "1"
DESCRIPTION = "maskrcnn built-in arrows dataset"
#: Arrows are 36-72 px long (a little larger than the shapes: their points must be a few heatmap cells apart).
ARROWS_CONFIG = ShapesConfig(object_size=(36, 72), objects_per_image=(1, 3), crowd_probability=0.0)
#: Unlabelled shapes drawn among the arrows, per image.
DISTRACTORS_PER_IMAGE = (0, 2)
#: How far (px) a hidden keypoint may lie outside the box of its arrow's visible pixels (a corner lies up to ~1.2 px
#: outside its polygon's rasterised pixels).
BOX_SLACK = 1.5


def arrow_geometry(center: tuple[float, float], length: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The arrow's polygon (7 x 2) and its keypoints (4 x 2, :data:`KEYPOINT_NAMES`' order), pointing at ``angle``
    radians (image axes: x right, y down, so "left" of the direction is toward negative local y)."""
    half, neck = length / 2, length / 2 - HEAD_LENGTH * length
    shaft, head = SHAFT * length, HEAD_WIDTH * length
    polygon = [(half, 0), (neck, head), (neck, shaft), (-half, shaft), (-half, -shaft), (neck, -shaft), (neck, -head)]
    keypoints = [(half, 0), (neck, -head), (neck, head), (-half, 0)]
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    offset = np.asarray(center, dtype=np.float64)
    return (np.asarray(polygon) @ rotation.T + offset, np.asarray(keypoints) @ rotation.T + offset)


def place_arrow(rng: np.random.Generator, objects: list[dict], height: int, width: int,
                config: ShapesConfig) -> dict | None:
    """An arrow wholly inside the image, on top of ``objects`` under the shapes' occlusion rule (None after 20
    tries)."""
    for _ in range(20):
        length = min(float(rng.uniform(*config.object_size)), 0.9 * min(height, width))
        reach = length / 2 + 1
        center = (float(rng.uniform(reach, width - reach)), float(rng.uniform(reach, height - reach)))
        polygon, keypoints = arrow_geometry(center, length, float(rng.uniform(0, 2 * math.pi)))
        polygon, keypoints = np.round(polygon, 2), np.round(keypoints, 2)  # as the JSON stores them
        full = polygon_mask(polygon, height, width)
        if full.sum() >= 40 and fits_on_top(objects, full) and points_stay_boxed(objects, full):
            placed = put_on_top(objects, "arrow", polygon, full)
            placed["keypoints"] = keypoints
            return placed
    return None


def points_stay_boxed(objects: list[dict], full: np.ndarray) -> bool:
    """Whether every earlier arrow's keypoints stay within :data:`BOX_SLACK` px of the box of what ``full`` leaves
    visible of it (a shape may hide a point, not move the arrow's box away from it)."""
    for obj in objects:
        if "keypoints" not in obj:
            continue
        ys, xs = np.nonzero(obj["mask"] & ~full)
        if len(xs) == 0:
            return False
        x, y = obj["keypoints"][:, 0], obj["keypoints"][:, 1]
        if ((x < xs.min() - BOX_SLACK).any() or (x > xs.max() + 1 + BOX_SLACK).any()
                or (y < ys.min() - BOX_SLACK).any() or (y > ys.max() + 1 + BOX_SLACK).any()):
            return False
    return True


def boxed_annotation(obj: dict) -> dict:
    """The arrow's COCO annotation, its box widened to hold its keypoints: a polygon's corner lies up to a pixel
    outside its rasterised pixels, and the keypoint targets drop any point outside the box (the tip is always at
    the box's edge)."""
    annotation = object_annotation(obj, ARROW_CATEGORY["id"])
    x0, y0, w, h = annotation["bbox"]
    xs, ys = obj["keypoints"][:, 0], obj["keypoints"][:, 1]
    left, top = min(x0, float(xs.min())), min(y0, float(ys.min()))
    right, bottom = max(x0 + w, float(xs.max())), max(y0 + h, float(ys.max()))
    # outward to the JSON's two decimals, so no rounding puts a keypoint a hair outside
    left, top = math.floor(left * 100) / 100, math.floor(top * 100) / 100
    width, height = math.ceil((right - left) * 100 + 1) / 100, math.ceil((bottom - top) * 100 + 1) / 100
    annotation["bbox"] = [left, top, width, height]
    return annotation


def draw_arrows_image(rng: np.random.Generator, config: ShapesConfig = ARROWS_CONFIG) -> tuple[np.ndarray, list[dict]]:
    """One image (uint8 RGB) with its arrows' annotations (without ids)."""
    height, width = (int(rng.integers(config.image_size[0], config.image_size[1] + 1)) for _ in range(2))
    image = textured_background(rng, height, width, config.stripes_probability)
    arrows = int(rng.integers(config.objects_per_image[0], config.objects_per_image[1] + 1))
    others = int(rng.integers(DISTRACTORS_PER_IMAGE[0], DISTRACTORS_PER_IMAGE[1] + 1))
    kinds = rng.permutation(["arrow"] * arrows + ["other"] * others)
    objects: list[dict] = []
    for kind in kinds:
        placed = (place_arrow(rng, objects, height, width, config) if kind == "arrow"
                  else place_object(rng, objects, height, width, config, points_stay_boxed))
        if placed is not None:
            paint(image, placed["mask"], rng)
            objects.append(placed)
    annotations = []
    for order, obj in enumerate(objects):
        if obj["category"] != "arrow":
            continue
        covered = np.zeros_like(obj["full"])
        for later in objects[order + 1:]:
            covered |= later["full"]
        annotations.append({**boxed_annotation(obj), **keypoint_fields(obj["keypoints"], covered)})
    return np.clip(np.round(image), 0, 255).astype(np.uint8), annotations


def keypoint_fields(points: np.ndarray, covered: np.ndarray) -> dict:
    """COCO's ``keypoints`` (x, y, v per point) and ``num_keypoints``: v = 1 where a later shape covers the pixel
    the point lies in, else 2."""
    height, width = covered.shape
    values: list[float] = []
    for x, y in points.tolist():
        row, column = min(max(int(y), 0), height - 1), min(max(int(x), 0), width - 1)
        values += [x, y, 1 if covered[row, column] else 2]
    return {"keypoints": values, "num_keypoints": len(points)}


def generate_arrows_dataset(root: str | os.PathLike, num_train: int = DEFAULT_NUM_TRAIN,
                            num_val: int = DEFAULT_NUM_VAL, seed: int = 0) -> str:
    """Write the arrows set under ``root`` (COCO-2017 layout: ``annotations/instances_{train,val}2017.json``) and
    return ``root``."""
    def write(folder: str, split: str, count: int) -> None:
        write_coco_split(folder, split, count, seed, draw_arrows_image, [ARROW_CATEGORY], DESCRIPTION,
                         DATASET_VERSION, ARROWS_CONFIG.jpeg_quality)
    return write_dataset(root, write, num_train, num_val)


def ensure_arrows_dataset(root: str | os.PathLike, **kwargs) -> str:
    """Generate the arrows set at ``root`` unless this version of it is there (a user's own files are left alone)."""
    return ensure_generated(root, DESCRIPTION, DATASET_VERSION, lambda: generate_arrows_dataset(root, **kwargs))


__all__ = ["KEYPOINT_NAMES", "KEYPOINT_SIGMAS", "SKELETON", "arrow_geometry", "draw_arrows_image",
           "generate_arrows_dataset", "ensure_arrows_dataset"]
