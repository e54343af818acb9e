"""The built-in synthetic dataset ("shapes"): a real COCO-format dataset, generated on first use, no download.

It is written in the COCO-2017 layout (``annotations/instances_{train,val}2017.json``, ``{train,val}2017/*.jpg``), so
it is read back by the same :class:`~dataset.coco.CocoInstanceDataset` as COCO itself and scored by COCOeval.

What is in it, and why:

* four categories, ``square``, ``circle``, ``triangle``, ``star`` (ids 1-4, so ``num_classes = 5``), rotated, of
  varied sizes and colours, on textured backgrounds (gradients, stripes, noise), so a detector has to learn shape, not
  colour;
* occlusion: later shapes may cover up to :data:`MAX_OCCLUDED` of earlier ones; an object left whole is annotated as
  a polygon (the one it was drawn from), an occluded one as compressed RLE of what is still visible;
* crowd regions: some images hold a cluster of tiny shapes annotated as one ``iscrowd = 1`` region in uncompressed
  RLE, exactly like COCO's crowds (evaluation ignores detections there; training leaves them out);
* deterministic by seed: the same seed writes the same files, byte for byte.

The drawn pixels of every object are its annotation rasterised by pycocotools, so masks and images agree exactly.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from pycocotools import mask as coco_mask

from .coco import coco2017_paths

CATEGORIES = ("square", "circle", "triangle", "star")
#: An earlier object may lose at most this fraction of its area to later ones (so every object stays recognisable).
MAX_OCCLUDED = 0.3
#: Train and val sizes of the default dataset: enough for the README's CPU demo to reach mask AP 0.5 in minutes.
DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL = 400, 60


#: Written into the JSON; a dataset of another version found on disk is regenerated (the defaults changed).
DATASET_VERSION = "2"
DESCRIPTION = "maskrcnn built-in shapes dataset"


@dataclass(frozen=True)
class ShapesConfig:
    """Image and object size ranges in pixels (inclusive), and how many objects and crowds an image gets.

    Objects of 28-64 px in images of 128-160 px stay at least ~22 px across after the demo's resize to 128 px, about
    five cells of the finest (stride 4) feature map: small enough to be a real detection task, large
    enough that a model trained from scratch for ten minutes tells a triangle from a star.
    """
    image_size: tuple[int, int] = (128, 160)
    object_size: tuple[int, int] = (28, 64)
    objects_per_image: tuple[int, int] = (1, 5)
    crowd_probability: float = 0.1
    stripes_probability: float = 0.15
    jpeg_quality: int = 92


def shape_polygon(category: str, center: tuple[float, float], size: float, angle: float) -> np.ndarray:
    """Vertices (K x 2, float) of a shape ``size`` pixels across, rotated by ``angle`` radians."""
    if category == "square":
        count = 4  # side ``size``: corners on the circle of radius size / sqrt(2)
        radii, angles = np.full(count, size / math.sqrt(2)), angle + math.pi / 4 + np.arange(count) * math.pi / 2
    elif category == "circle":
        count = 32
        radii, angles = np.full(count, size / 2), angle + np.arange(count) * 2 * math.pi / count
    elif category == "triangle":
        count = 3
        radii, angles = np.full(count, size / 2), angle + np.arange(count) * 2 * math.pi / count
    elif category == "star":
        count = 10
        radii = np.where(np.arange(count) % 2 == 0, size / 2, size / 2 * 0.45)
        angles = angle + np.arange(count) * 2 * math.pi / count
    else:
        raise ValueError(f"unknown shape category {category!r}; expected one of {CATEGORIES}")
    return np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1)


def polygon_mask(polygon: np.ndarray, height: int, width: int) -> np.ndarray:
    """The polygon rasterised exactly as pycocotools (and so COCOeval) rasterises it."""
    rle = coco_mask.frPyObjects([polygon.reshape(-1).tolist()], height, width)
    return coco_mask.decode(coco_mask.merge(rle)).astype(bool)


def textured_background(rng: np.random.Generator, height: int, width: int,
                        stripes_probability: float) -> np.ndarray:
    """A float RGB background: a random colour gradient, optional stripes, and noise."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    direction = rng.uniform(0, 2 * math.pi)
    t = (xs * math.cos(direction) + ys * math.sin(direction))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    image = start + (end - start) * t[..., None]
    if rng.random() < stripes_probability:
        period, phase = rng.uniform(6, 24), rng.uniform(0, 2 * math.pi)
        stripes = np.sin((xs * math.cos(direction + 1.0) + ys * math.sin(direction + 1.0)) * 2 * math.pi / period
                         + phase)
        image += rng.uniform(10, 35) * stripes[..., None]
    image += rng.normal(0, rng.uniform(2, 6), image.shape)
    return image


def paint(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
    """Fill ``mask`` with a random colour far from the background under it, with a light gradient of its own."""
    under = image[mask].mean(axis=0)
    colour = rng.uniform(0, 255, 3)
    for _ in range(20):
        if np.abs(colour - under).sum() > 180:
            break
        colour = rng.uniform(0, 255, 3)
    ys, xs = np.nonzero(mask)
    shade = (xs - xs.mean()) * rng.uniform(-0.6, 0.6) + (ys - ys.mean()) * rng.uniform(-0.6, 0.6)
    image[ys, xs] = colour + shade[:, None] + rng.normal(0, 3, (len(ys), 3))


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd encoding: column-major run lengths starting with a run of zeros."""
    flat = np.asfortranarray(mask).reshape(-1, order="F").astype(np.uint8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def compressed_rle(mask: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def draw_image(rng: np.random.Generator, config: ShapesConfig) -> tuple[np.ndarray, list[dict]]:
    """One image (uint8 RGB) and its annotations (without ids)."""
    height, width = (int(rng.integers(config.image_size[0], config.image_size[1] + 1)) for _ in range(2))
    image = textured_background(rng, height, width, config.stripes_probability)
    objects: list[dict] = []  # {"category", "mask" (visible), "full", "polygon" or None, "crowd"}
    if rng.random() < config.crowd_probability:
        objects.append(draw_crowd(rng, image, height, width))
    for _ in range(int(rng.integers(config.objects_per_image[0], config.objects_per_image[1] + 1))):
        placed = place_object(rng, objects, height, width, config)
        if placed is not None:
            paint(image, placed["mask"], rng)
            objects.append(placed)
    annotations = [object_annotation(obj, CATEGORIES.index(obj["category"]) + 1) for obj in objects
                   if obj["mask"].any()]
    return np.clip(np.round(image), 0, 255).astype(np.uint8), annotations


def object_annotation(obj: dict, category_id: int) -> dict:
    """A drawn object's COCO annotation: its polygon while it is whole, else RLE of what is visible (uncompressed
    for a crowd, as COCO)."""
    whole = obj["polygon"] is not None and bool((obj["mask"] == obj["full"]).all())
    if obj["crowd"]:
        segmentation = uncompressed_rle(obj["mask"])
    elif whole:
        segmentation = [obj["polygon"].reshape(-1).tolist()]
    else:
        segmentation = compressed_rle(obj["mask"])
    rle = coco_mask.encode(np.asfortranarray(obj["mask"].astype(np.uint8)))
    return {
        "category_id": category_id,
        "segmentation": segmentation,
        "area": float(coco_mask.area(rle)),
        "bbox": [float(v) for v in coco_mask.toBbox(rle)],
        "iscrowd": int(obj["crowd"]),
    }


def place_object(rng: np.random.Generator, objects: list[dict], height: int, width: int, config: ShapesConfig,
                 allowed: Callable[[list[dict], np.ndarray], bool] | None = None) -> dict | None:
    """A new shape on top of ``objects`` that hides at most MAX_OCCLUDED of any of them and, if given, that
    ``allowed(objects, its_mask)`` accepts (or None after 20 tries)."""
    for _ in range(20):
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        size = float(rng.uniform(*config.object_size))
        size = min(size, 0.9 * min(height, width))
        center = (float(rng.uniform(size / 3, width - size / 3)), float(rng.uniform(size / 3, height - size / 3)))
        # rounded as the JSON stores it, so the drawn pixels are exactly what the annotation decodes to
        polygon = np.round(shape_polygon(category, center, size, float(rng.uniform(0, 2 * math.pi))), 2)
        full = polygon_mask(polygon, height, width)
        if full.sum() < 40:
            continue
        if fits_on_top(objects, full) and (allowed is None or allowed(objects, full)):
            return put_on_top(objects, category, polygon, full)
    return None


def fits_on_top(objects: list[dict], full: np.ndarray) -> bool:
    """Whether a new object covering ``full`` leaves every earlier object at least 1 - MAX_OCCLUDED of its area."""
    return all((obj["mask"] & ~full).sum() >= (1 - MAX_OCCLUDED) * obj["full"].sum() for obj in objects)


def put_on_top(objects: list[dict], category: str, polygon: np.ndarray, full: np.ndarray) -> dict:
    """The new object drawn over ``objects`` (their visible masks lose what it covers)."""
    for obj in objects:
        obj["mask"] = obj["mask"] & ~full
    return {"category": category, "mask": full.copy(), "full": full, "polygon": polygon, "crowd": False}


def draw_crowd(rng: np.random.Generator, image: np.ndarray, height: int, width: int) -> dict:
    """A cluster of 6-12 tiny shapes of one category, painted, as one crowd region."""
    category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
    cx, cy = rng.uniform(0.25 * width, 0.75 * width), rng.uniform(0.25 * height, 0.75 * height)
    union = np.zeros((height, width), dtype=bool)
    for _ in range(int(rng.integers(6, 13))):
        center = (float(cx + rng.normal(0, width / 12)), float(cy + rng.normal(0, height / 12)))
        union |= polygon_mask(shape_polygon(category, center, float(rng.uniform(5, 9)), rng.uniform(0, 6.3)),
                              height, width)
    paint(image, union, rng)
    return {"category": category, "mask": union, "full": union, "polygon": None, "crowd": True}


def write_split(root: str, split: str, num_images: int, seed: int, config: ShapesConfig) -> None:
    categories = [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(CATEGORIES)]
    write_coco_split(root, split, num_images, seed, lambda rng: draw_image(rng, config), categories,
                     DESCRIPTION, DATASET_VERSION, config.jpeg_quality)


def write_coco_split(root: str, split: str, num_images: int, seed: int,
                     draw: Callable[[np.random.Generator], tuple[np.ndarray, list[dict]]], categories: list[dict],
                     description: str, version: str, jpeg_quality: int) -> None:
    """``num_images`` images drawn by ``draw`` (an RGB image and its annotations without ids) as a COCO-2017 split
    under ``root``; image ids start at 1 (train) or 1000001 (val)."""
    image_dir, ann_file = coco2017_paths(root, split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.dirname(ann_file), exist_ok=True)
    rng = np.random.default_rng([seed, ("train", "val").index(split)])
    first_id = 1 if split == "train" else 1_000_001
    images, annotations = [], []
    for image_id in range(first_id, first_id + num_images):
        image, anns = draw(rng)
        file_name = f"{image_id:012d}.jpg"
        ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        assert ok, "OpenCV could not encode a JPEG"
        encoded.tofile(os.path.join(image_dir, file_name))
        images.append({"id": image_id, "file_name": file_name, "height": image.shape[0], "width": image.shape[1]})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    data = {
        "info": {"description": f"{description} ({split}, seed {seed})", "version": version},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    with open(ann_file, "w") as f:
        json.dump(data, f)


def generate_shapes_dataset(root: str | os.PathLike, num_train: int = DEFAULT_NUM_TRAIN,
                            num_val: int = DEFAULT_NUM_VAL, seed: int = 0,
                            config: ShapesConfig = ShapesConfig()) -> str:
    """Write the dataset under ``root`` (COCO-2017 layout) and return ``root``."""
    return write_dataset(root, lambda staging, split, count: write_split(staging, split, count, seed, config),
                         num_train, num_val)


def write_dataset(root: str | os.PathLike, write: Callable[[str, str, int], None], num_train: int,
                  num_val: int) -> str:
    """Call ``write(folder, split, count)`` for both splits into a temporary folder beside ``root``, then rename it
    into place, so an interrupted run never leaves a half-written dataset behind."""
    root = os.path.abspath(os.fspath(root))
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".generated-", dir=parent)
    try:
        write(staging, "train", num_train)
        write(staging, "val", num_val)
        if os.path.isdir(root):
            shutil.rmtree(root)
        os.replace(staging, root)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    return root


def ensure_shapes_dataset(root: str | os.PathLike, **kwargs) -> str:
    """Generate the dataset at ``root`` unless both splits are there, written by this version of the generator.

    Files there that this generator did not write (a user's own data) are never replaced.
    """
    return ensure_generated(root, DESCRIPTION, DATASET_VERSION, lambda: generate_shapes_dataset(root, **kwargs))


def ensure_generated(root: str | os.PathLike, description: str, version: str, generate: Callable[[], str]) -> str:
    """``generate()`` unless both splits at ``root`` were written by the generator ``description`` at ``version``;
    files another generator or a user wrote are left alone."""
    versions = {generated_version(coco2017_paths(root, split)[1], description, version) for split in ("train", "val")}
    if versions <= {version} or None in versions:
        return os.fspath(root)
    reason = "replacing one written by an older version" if "old" in versions else "first use"
    logging.getLogger("maskrcnn").info("generating the %s in %s (%s)", description, root, reason)
    return generate()


def generated_version(ann_file: str, description: str = DESCRIPTION, version: str = DATASET_VERSION) -> str | None:
    """The generator version recorded in ``ann_file``; None for a file not written by this generator (a user's own
    data there is left alone); "missing" if there is no file."""
    if not os.path.isfile(ann_file):
        return "missing"
    with open(ann_file, "rb") as f:
        head = f.read(512).decode("utf-8", "replace")  # "info" is written first
    if f'"description": "{description} (' not in head:
        return None
    return version if f'"version": "{version}"' in head else "old"
