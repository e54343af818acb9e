"""Tiling images of different sizes into one picture (for previews and TensorBoard)."""
from __future__ import annotations

import math
import os
from typing import Sequence

import cv2
import numpy as np


def image_grid(images: Sequence[np.ndarray], columns: int = 4, cell_size: int = 256, gap: int = 4,
               background: int = 32) -> np.ndarray:
    """RGB uint8 images, each scaled to fit a ``cell_size`` square (aspect kept), in rows of ``columns``."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    grid = np.full((rows * (cell_size + gap) + gap, columns * (cell_size + gap) + gap, 3), background, np.uint8)
    for i, image in enumerate(images):
        height, width = image.shape[:2]
        scale = cell_size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        cell = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        top = gap + (i // columns) * (cell_size + gap) + (cell_size - new_h) // 2
        left = gap + (i % columns) * (cell_size + gap) + (cell_size - new_w) // 2
        grid[top:top + new_h, left:left + new_w] = cell
    return grid


def write_rgb(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an RGB uint8 image (format from the extension), creating the folder; raises OSError on failure."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extension = os.path.splitext(path)[1] or ".png"
    ok, encoded = cv2.imencode(extension, np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:
        raise OSError(f"{path}: OpenCV cannot write {extension} images")
    encoded.tofile(path)
