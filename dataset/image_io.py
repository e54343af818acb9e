"""Reading images as the model wants them: 3-channel RGB, whatever is on disk.

OpenCV decodes JPEG and PNG; ``IMREAD_COLOR`` turns grayscale and CMYK into 3 channels and drops an alpha channel.
OpenCV gives BGR, so channels are reversed once here and nowhere else.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import torch
from torch import Tensor

from .errors import DatasetError

#: File endings of the images the tools look for in folders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as an ``H x W x 3`` uint8 RGB array; :class:`DatasetError` if it cannot be decoded."""
    path = str(path)
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: image file not found")
    # imdecode on bytes rather than imread(path): works for non-ASCII paths on every platform.
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DatasetError(f"{path}: not a readable image (corrupt, truncated or not an image file)")
    return np.ascontiguousarray(image[:, :, ::-1])


def image_to_tensor(image: np.ndarray) -> Tensor:
    """``H x W x 3`` uint8 array -> ``3 x H x W`` float32 tensor in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)



#: EXIF orientations (5-8) that turn the stored image by 90 degrees: it is shown (and decoded) with width and height
#: swapped.
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
EXIF_ORIENTATION = 0x0112


def image_size(path: str) -> tuple[int, int]:
    """``(width, height)`` of the image as it is decoded and shown, from the file's header, without decoding it: a
    phone photo stored sideways with an EXIF orientation reads upright (as :func:`read_rgb`, OpenCV and LabelMe
    have it). A :class:`DatasetError` naming the file if it is missing or not an image."""
    from PIL import Image, UnidentifiedImageError  # Pillow comes with torchvision; it reads headers only
    try:
        with Image.open(path) as image:
            width, height = image.size
            turned = image.getexif().get(EXIF_ORIENTATION) in TRANSPOSING_ORIENTATIONS
    except (OSError, UnidentifiedImageError) as error:
        raise DatasetError(f"{path}: not a readable image ({error})") from None
    return (height, width) if turned else (width, height)
