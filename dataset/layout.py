"""Finding a split's annotation file and image folder in a dataset folder laid out like COCO-2017.

``<folder>/annotations/instances_<name>.json`` describes the images in ``<folder>/<name>/``, where ``<name>`` starts
with the split: ``train2017``, ``val2017``, ``train``, ``val_small`` ... (what ``tools/convert.py`` writes, and
COCO's own layout).
"""
from __future__ import annotations

import glob
import os
from typing import Optional

from .errors import DatasetError


def find_split(folder: str | os.PathLike, split: str) -> Optional[tuple[str, str]]:
    """``(image_dir, ann_file)`` of ``split`` ("train" or "val"), or None when no annotation file is for it."""
    folder = os.fspath(folder)
    annotations = os.path.join(folder, "annotations")
    if not os.path.isdir(annotations):
        raise DatasetError(f"{folder}: no annotations/ folder; expected annotations/instances_{{train,val}}*.json "
                           f"and the image folders they name (COCO-2017 layout)")
    found = sorted(glob.glob(os.path.join(glob.escape(annotations), f"instances_{split}*.json")))
    if not found:
        return None
    if len(found) > 1:
        raise DatasetError(f"{annotations}: more than one {split} file ({', '.join(map(os.path.basename, found))}); "
                           f"give the one to use with --{split}-ann and --{split}-images")
    name = os.path.basename(found[0])[len("instances_"):-len(".json")]
    image_dir = os.path.join(folder, name)
    if not os.path.isdir(image_dir):
        raise DatasetError(f"{found[0]}: its image folder {image_dir} does not exist")
    return image_dir, found[0]
