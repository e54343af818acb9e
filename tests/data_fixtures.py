"""Tiny COCO-format datasets written by the tests themselves: every kind of annotation COCO-2017 holds.

``write_tiny_coco(root)`` writes ``root/images/*`` and ``root/instances.json`` with:

* ``rgb.jpg`` (64 x 48): a two-part polygon (category 1), a compressed RLE (category 3), a crowd region in
  uncompressed RLE (category 1), a box with no area (dropped), and a polygon with one invalid part (< 3 points);
* ``gray.jpg`` (40 x 30, grayscale file): an uncompressed-RLE object and an annotation whose only polygon is invalid;
* ``empty.png`` (32 x 32): no annotations at all;
* ``cmyk.jpg`` (36 x 28, CMYK file): one rectangle polygon.

Categories are 1 "cat", 3 "dog" (id 2 unused, so a gap): ``num_classes = 4``.
"""
from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask


def uncompressed_rle(mask: np.ndarray) -> dict:
    """Column-major runs starting with zeros (written independently of the library's generator)."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    counts, current, run = [], 0, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": counts}


def compressed_rle(mask: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def rect(height: int, width: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def write_tiny_coco(root: str) -> dict:
    """Write the dataset; return paths and the masks the RLE annotations were made from."""
    image_dir = os.path.join(root, "images")
    os.makedirs(image_dir, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(os.path.join(image_dir, "rgb.jpg"))
    Image.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8), mode="L").save(
        os.path.join(image_dir, "gray.jpg"))
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(os.path.join(image_dir, "empty.png"))
    Image.new("CMYK", (36, 28), (200, 30, 10, 0)).save(os.path.join(image_dir, "cmyk.jpg"))

    rle_mask = rect(48, 64, 30, 40, 40, 60)          # category 3, compressed RLE
    crowd_mask = rect(48, 64, 2, 10, 2, 30)          # crowd region
    gray_mask = rect(30, 40, 5, 25, 10, 20)          # uncompressed RLE, not crowd
    two_parts = [[5, 12, 20, 12, 20, 25, 5, 25], [24, 14, 34, 14, 34, 24]]  # square + triangle
    images = [
        {"id": 1, "file_name": "rgb.jpg", "height": 48, "width": 64},
        {"id": 2, "file_name": "gray.jpg", "height": 30, "width": 40},
        {"id": 3, "file_name": "empty.png", "height": 32, "width": 32},
        {"id": 4, "file_name": "cmyk.jpg", "height": 28, "width": 36},
    ]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": two_parts, "area": 276.0,
         "bbox": [5, 12, 29, 13], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 3, "segmentation": compressed_rle(rle_mask), "area": 200.0,
         "bbox": [40, 30, 20, 10], "iscrowd": 0},
        {"id": 3, "image_id": 1, "category_id": 1, "segmentation": uncompressed_rle(crowd_mask), "area": 224.0,
         "bbox": [2, 2, 28, 8], "iscrowd": 1},
        {"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[50, 5, 50, 5, 50, 15, 50, 15]], "area": 0.0,
         "bbox": [50, 5, 0, 10], "iscrowd": 0},
        {"id": 5, "image_id": 1, "category_id": 3, "segmentation": [[44, 2, 60, 2, 60, 12, 44, 12], [1, 1, 2, 2]],
         "area": 160.0, "bbox": [44, 2, 16, 10], "iscrowd": 0},
        {"id": 6, "image_id": 2, "category_id": 3, "segmentation": uncompressed_rle(gray_mask), "area": 200.0,
         "bbox": [10, 5, 10, 20], "iscrowd": 0},
        {"id": 7, "image_id": 2, "category_id": 1, "segmentation": [[1, 1, 5, 5]], "area": 4.0,
         "bbox": [1, 1, 4, 4], "iscrowd": 0},
        {"id": 8, "image_id": 4, "category_id": 1, "segmentation": [[4, 4, 30, 4, 30, 20, 4, 20]], "area": 416.0,
         "bbox": [4, 4, 26, 16], "iscrowd": 0},
    ]
    categories = [{"id": 1, "name": "cat", "supercategory": "animal"},
                  {"id": 3, "name": "dog", "supercategory": "animal"}]
    ann_file = os.path.join(root, "instances.json")
    with open(ann_file, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return {"image_dir": image_dir, "ann_file": ann_file, "rle_mask": rle_mask, "gray_mask": gray_mask}
