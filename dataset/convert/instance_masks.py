"""Folders of images and instance-id masks (PennFudan's layout): each non-zero value of a mask is one object.

``<folder>/PNGImages`` with ``<folder>/PedMasks`` (PennFudan's names) or ``<folder>/images`` with
``<folder>/masks``; the mask of ``a.png`` is ``a_mask.png`` or ``a.png``. Every object gets the one class name
given. Images without a mask are not annotated, so they are left out and counted.
"""
from __future__ import annotations

import glob
import os

import cv2
import numpy as np

from ..errors import DatasetError
from ..image_io import IMAGE_EXTENSIONS
from .coco_builder import CocoBuilder

LAYOUTS = (("PNGImages", "PedMasks"), ("images", "masks"))


def find_mask(masks_dir: str, stem: str) -> str | None:
    for name in (f"{stem}_mask.png", f"{stem}.png"):
        path = os.path.join(masks_dir, name)
        if os.path.isfile(path):
            return path
    return None


def convert_instance_masks(folder: str, class_name: str) -> CocoBuilder:
    layout = next(((os.path.join(folder, a), os.path.join(folder, b)) for a, b in LAYOUTS
                   if os.path.isdir(os.path.join(folder, a)) and os.path.isdir(os.path.join(folder, b))), None)
    if layout is None:
        raise DatasetError(f"{folder}: expected PNGImages/ and PedMasks/ (PennFudan) or images/ and masks/")
    images_dir, masks_dir = layout
    builder = CocoBuilder()
    used = set()
    for image_path in sorted(p for p in glob.glob(os.path.join(glob.escape(images_dir), "*"))
                             if p.lower().endswith(IMAGE_EXTENSIONS)):
        mask_path = find_mask(masks_dir, os.path.splitext(os.path.basename(image_path))[0])
        if mask_path is None:
            builder.report.images_without_labels += 1
            continue
        used.add(mask_path)
        index = builder.add_image(image_path)
        ids = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
        if ids is None:
            raise DatasetError(f"{mask_path}: not a readable mask image")
        if ids.ndim == 3:
            raise DatasetError(f"{mask_path}: expected one channel of instance ids, got {ids.shape[2]} channels")
        if ids.shape[::-1] != builder.size_of(index):
            raise DatasetError(f"{mask_path}: mask is {ids.shape[1]}x{ids.shape[0]} but its image is "
                               f"{builder.size_of(index)[0]}x{builder.size_of(index)[1]}")
        for value in np.unique(ids):
            if value:
                builder.add_object(index, class_name, mask=(ids == value).astype(np.uint8))
    builder.report.labels_without_image = sorted(os.path.relpath(p, folder) for p in
                                                 glob.glob(os.path.join(glob.escape(masks_dir), "*.png"))
                                                 if p not in used)
    if builder.report.images_without_labels:
        builder.report.notes.append(f"{builder.report.images_without_labels} images have no mask: not annotated, "
                                    f"so left out")
    return builder
