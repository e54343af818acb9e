"""COCO instance segmentation as a PyTorch dataset: the COCO-2017 layout, read through pycocotools.

Item ``i`` is ``(image, target)``: ``image`` a float32 ``3 x H x W`` RGB tensor in [0, 1] (grayscale and CMYK files
become RGB), ``target`` a dict with

* ``boxes``: float32 ``N x 4``, ``(x1, y1, x2, y2)`` in pixels (COCO's ``[x, y, w, h]`` converted, clipped to the
  image; boxes with no area are dropped),
* ``labels``: int64 ``N``, the model's labels of the categories (:class:`maskrcnn.categories.Categories`): COCO's
  own category ids as they are (torchvision's convention: ``num_classes = 91``, index 0 is background and unused ids
  are gaps), ids ``1..K`` as they are, any other ids mapped to ``1..K`` in id order,
* ``masks``: uint8 ``N x H x W`` (0/1),
* ``image_id`` (int), ``area`` (float32 ``N``, COCO's segment area), ``iscrowd`` (int64 ``N``, all 0),
* in a keypoint file (its category names ``keypoints``, as COCO's ``person_keypoints_*.json``): ``keypoints``
  float32 ``N x K x 3`` (x, y, visibility) and ``keypoint_flip`` int64 ``K``, the left/right swap that
  :func:`transforms.hflip` applies (:mod:`dataset.keypoints`).

Crowd annotations are not training targets (torchvision's reference leaves them out too); they stay in
:attr:`CocoInstanceDataset.coco`, the ground truth that COCOeval reads, where they mark regions to ignore.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from pycocotools.coco import COCO
from torch import Tensor
from torch.utils.data import Dataset

from .categories import Categories
from .coco_masks import is_rle, segmentation_to_mask, split_polygon_parts
from .errors import DatasetError
from .image_io import image_size, image_to_tensor, read_rgb
from .keypoints import flip_permutation, keypoint_names, keypoints_of

logger = logging.getLogger(__name__)

COCO_DOWNLOAD_HINT = ("expected the COCO-2017 layout <root>/annotations/instances_{train,val}2017.json (for "
                      "keypoints person_keypoints_{train,val}2017.json) and "
                      "<root>/{train,val}2017/*.jpg; download it from https://cocodataset.org/#download "
                      "(2017 Train/Val images and annotations)")

Transform = Callable[[Tensor, dict], "tuple[Tensor, dict]"]


#: COCO-2017's annotation files by what they annotate: ``instances`` (boxes and masks, 80 categories) and
#: ``person_keypoints`` (people with their 17 keypoints).
COCO_ANNOTATION_KINDS = ("instances", "person_keypoints")


def coco2017_paths(root: str | os.PathLike, split: str, kind: str = "instances") -> tuple[str, str]:
    """``(image_dir, ann_file)`` of a split (``"train"`` or ``"val"``) in the standard COCO-2017 layout;
    ``kind="person_keypoints"`` names the keypoint file of the split."""
    if kind not in COCO_ANNOTATION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(COCO_ANNOTATION_KINDS)}, got {kind!r}")
    return (os.path.join(root, f"{split}2017"),
            os.path.join(root, "annotations", f"{kind}_{split}2017.json"))


@dataclass
class AnnotationReport:
    """What was left out of the training targets while indexing, for the log and for tests."""
    crowd: int = 0
    no_area: int = 0
    no_segmentation: int = 0
    invalid_polygon_parts: int = 0
    images_without_targets: int = 0
    skipped_images: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.crowd} crowd annotations kept out of targets, {self.no_area} boxes with no area and "
                f"{self.no_segmentation} unusable segmentations dropped, {self.invalid_polygon_parts} invalid polygon "
                f"parts (< 3 points) dropped, {self.images_without_targets} images without targets, "
                f"{len(self.skipped_images)} bad images skipped")


def read_json(path: str, missing: str, kind: str = "JSON", error: type[Exception] = DatasetError,
              hint: str = "") -> Any:
    """The parsed JSON file; a one-line ``error`` naming it (``"{missing} not found: path{hint}"`` or
    ``"path: not a readable {kind} file"``) if it is absent or unreadable."""
    if not os.path.isfile(path):
        raise error(f"{missing} not found: {path}{hint}")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise error(f"{path}: not a readable {kind} file ({problem})") from None


def write_json_atomically(path: str | os.PathLike, data: Any) -> None:
    """Writes to a temporary name in the same folder, then renames: a reader never sees half a file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    with open(temporary, "w") as f:
        json.dump(data, f)
    os.replace(temporary, path)


def load_coco(ann_file: str | os.PathLike) -> COCO:
    """pycocotools' COCO index of an instances JSON, quietly, with a one-line :class:`DatasetError` if unreadable."""
    ann_file = str(ann_file)
    data = read_json(ann_file, "annotation file", kind="COCO JSON", hint=f" ({COCO_DOWNLOAD_HINT})")
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= data.keys():
        raise DatasetError(f"{ann_file}: expected a COCO instances file with 'images', 'annotations' and "
                           f"'categories'")
    return load_coco_dict(data)


def load_coco_dict(data: dict) -> COCO:
    """pycocotools' COCO index of an instances dict already in memory, quietly."""
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco.createIndex()
    return coco


def class_names_of(coco: COCO) -> list[str]:
    """Names indexed by label (see :class:`maskrcnn.categories.Categories`)."""
    return list(Categories.from_coco_categories(coco.dataset["categories"]).names)


class CocoInstanceDataset(Dataset):
    """COCO-format instance segmentation (see the module docstring for what an item holds).

    Args:
        image_dir: folder holding the images named by the JSON's ``file_name``.
        ann_file: the instances JSON.
        transforms: called as ``transforms(image, target)`` on every item (see the ``transforms`` package).
        filter_empty: leave out images with no usable annotation (for training, as torchvision's reference does);
            ``False`` (the default, and what evaluation needs) keeps them, as negative samples.
        skip_bad_images: check every image's header up front and leave out files that are missing, unreadable or
            whose size differs from the JSON (counted and logged); ``False`` raises on the first such file when it is
            read. A file that is corrupt past its header is also skipped when read (the next image takes its place).
    """

    def __init__(self, image_dir: str | os.PathLike, ann_file: str | os.PathLike,
                 transforms: Optional[Transform] = None, *, filter_empty: bool = False,
                 skip_bad_images: bool = False) -> None:
        self.image_dir = str(image_dir)
        self.ann_file = str(ann_file)
        if not os.path.isdir(self.image_dir):
            raise DatasetError(f"image folder not found: {self.image_dir} ({COCO_DOWNLOAD_HINT})")
        self.coco = load_coco(self.ann_file)
        self.transforms = transforms
        self.skip_bad_images = skip_bad_images
        self.categories = Categories.from_coco_categories(self.coco.dataset["categories"])
        #: the keypoints' names in a keypoint file (None otherwise), and the swap a horizontal flip makes
        self.keypoint_names = keypoint_names(self.coco, self.ann_file)
        self.keypoint_flip = flip_permutation(self.keypoint_names) if self.keypoint_names else None
        self.report = AnnotationReport()
        self._targets = {image_id: self._usable_annotations(image_id) for image_id in sorted(self.coco.imgs)}
        if self.keypoint_names is not None:  # a keypoint count that does not fit is one line now, not mid-training
            for anns in self._targets.values():
                keypoints_of(anns, len(self.keypoint_names), self.ann_file)
        self.ids = [i for i, anns in self._targets.items() if anns or not filter_empty]
        self.report.images_without_targets = sum(1 for anns in self._targets.values() if not anns)
        if skip_bad_images:
            self.ids = [i for i in self.ids if self._header_is_good(i)]
        logger.info("%s: %d images; %s", self.ann_file, len(self.ids), self.report.summary())

    @property
    def num_classes(self) -> int:
        """Number of classes including background: what ``MaskRCNN(num_classes=...)`` needs for these labels."""
        return self.categories.num_classes

    @property
    def class_names(self) -> list[str]:
        """Category names indexed by label."""
        return list(self.categories.names)

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, index: int) -> str:
        return os.path.join(self.image_dir, self.coco.imgs[self.ids[index]]["file_name"])

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` from the JSON, without reading the image."""
        info = self.coco.imgs[self.ids[index]]
        return int(info["height"]), int(info["width"])

    def aspect_ratio(self, index: int) -> float:
        height, width = self.image_size(index)
        return width / height

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Any]]:
        for attempt in range(len(self.ids)):
            try:
                image = self.read_image((index + attempt) % len(self.ids))
                break
            except DatasetError as error:
                if not self.skip_bad_images:
                    raise
                logger.warning("skipping %s", error)
        else:
            raise DatasetError(f"{self.image_dir}: no readable image left")
        target = self.read_target((index + attempt) % len(self.ids), image.shape[0], image.shape[1])
        image_tensor = image_to_tensor(image)
        if self.transforms is not None:
            image_tensor, target = self.transforms(image_tensor, target)
        return image_tensor, target

    def read_image(self, index: int) -> np.ndarray:
        """The RGB uint8 ``H x W x 3`` image of item ``index``, checked against the JSON's size."""
        path = self.image_path(index)
        image = read_rgb(path)
        expected = self.image_size(index)
        if image.shape[:2] != expected:
            raise DatasetError(f"{path}: image is {image.shape[1]}x{image.shape[0]} but {self.ann_file} records "
                               f"{expected[1]}x{expected[0]} (width x height)")
        return image

    def read_target(self, index: int, height: int, width: int) -> dict[str, Any]:
        image_id = self.ids[index]
        anns = self._targets[image_id]
        boxes = torch.tensor([a["_xyxy"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        if anns:
            masks = torch.from_numpy(np.stack([segmentation_to_mask(a["segmentation"], height, width)
                                               for a in anns]))
        else:
            masks = torch.zeros((0, height, width), dtype=torch.uint8)
        target = {
            "boxes": boxes,
            "labels": torch.tensor([self.categories.label_of(a["category_id"]) for a in anns], dtype=torch.int64),
            "masks": masks,
            "image_id": image_id,
            "area": torch.tensor([float(a.get("area", 0.0)) for a in anns], dtype=torch.float32),
            "iscrowd": torch.zeros(len(anns), dtype=torch.int64),
        }
        if self.keypoint_names is not None:
            target["keypoints"] = keypoints_of(anns, len(self.keypoint_names), self.ann_file)
            target["keypoint_flip"] = torch.tensor(self.keypoint_flip, dtype=torch.int64)
        return target

    def _usable_annotations(self, image_id: int) -> list[dict]:
        """Non-crowd annotations with a box of positive area (after clipping) and a usable segmentation."""
        info = self.coco.imgs[image_id]
        height, width = int(info["height"]), int(info["width"])
        usable = []
        for ann in self.coco.imgToAnns.get(image_id, []):
            if not self.categories.has_category(ann.get("category_id")):
                raise DatasetError(f"{self.ann_file}: annotation {ann.get('id')} (image {image_id}) has category_id "
                                   f"{ann.get('category_id')!r}, which 'categories' does not list "
                                   f"(ids: {sorted(set(self.categories.ids) - {0})[:10]})")
            if ann.get("iscrowd", 0):
                self.report.crowd += 1
                continue
            x, y, w, h = ann["bbox"]
            x1, y1 = min(max(x, 0.0), width), min(max(y, 0.0), height)
            x2, y2 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
            if x2 <= x1 or y2 <= y1:
                self.report.no_area += 1
                continue
            segmentation = ann.get("segmentation")
            if is_rle(segmentation):
                ok = [int(s) for s in segmentation["size"]] == [height, width]
            elif isinstance(segmentation, list):
                parts, dropped = split_polygon_parts(segmentation)
                self.report.invalid_polygon_parts += dropped
                ok = bool(parts)
            else:
                ok = False
            if not ok:
                self.report.no_segmentation += 1
                continue
            usable.append({**ann, "_xyxy": [x1, y1, x2, y2]})
        return usable

    def _header_is_good(self, image_id: int) -> bool:
        info = self.coco.imgs[image_id]
        path = os.path.join(self.image_dir, info["file_name"])
        try:
            good = image_size(path) == (int(info["width"]), int(info["height"]))
        except DatasetError:
            good = False
        if not good:
            self.report.skipped_images.append(path)
            logger.warning("skipping %s: missing, unreadable or not the size %s records", path, self.ann_file)
        return good
