"""A prediction as JSON records: the instances of one image or video frame, and COCO results files' image ids.

An instance record is ``{"label", "name", "score", "box": [x1, y1, x2, y2], "mask"}`` (a Keypoint R-CNN's adds
``"keypoints": [[x, y], ...]`` and ``"keypoint_scores"``): ``label`` is the training
dataset's own category id, ``box`` is in input pixels, and ``mask`` is compressed COCO RLE
(``{"size": [h, w], "counts": "..."}``) or COCO polygons (``[[x1, y1, x2, y2, ...], ...]``, holes filled). A
Faster R-CNN's records have no mask.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from torch import Tensor

from dataset import load_coco, mask_to_polygons, mask_to_rle
from dataset.categories import Categories
from maskrcnn.roi_heads.mask_paste import MASK_THRESHOLD

MASK_FORMATS = ("rle", "polygon")


def encode_mask(mask: Tensor, mask_format: str = "rle") -> Any:
    """A ``H x W`` mask (probabilities, cut at 0.5, or bool) as RLE or polygons."""
    binary = (mask > MASK_THRESHOLD).numpy()
    return mask_to_rle(binary) if mask_format == "rle" else mask_to_polygons(binary)


def instance_records(output: dict[str, Tensor], categories: Categories, mask_format: str = "rle"
                     ) -> list[dict[str, Any]]:
    """One image's model output (on the CPU) as instance records."""
    records = []
    masks = output.get("masks")
    for k, (box, label, score) in enumerate(zip(output["boxes"].tolist(), output["labels"].tolist(),
                                                output["scores"].tolist())):
        record = {"label": categories.category_id(label), "name": categories.name(label),
                  "score": round(float(score), 4), "box": [round(v, 2) for v in box]}
        if masks is not None:
            record["mask"] = encode_mask(masks[k, 0], mask_format)
        if "keypoints" in output:  # [[x, y], ...] in input pixels, and each point's heatmap score
            record["keypoints"] = [[round(float(x), 2), round(float(y), 2)] for x, y, _ in output["keypoints"][k]]
            record["keypoint_scores"] = [round(float(v), 3) for v in output["keypoints_scores"][k]]
        records.append(record)
    return records


def coco_result_records(image_id: int, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Instance records as COCO results (``bbox`` as x, y, w, h; ``segmentation`` the record's mask)."""
    results = []
    for record in records:
        x1, y1, x2, y2 = record["box"]
        result = {"image_id": image_id, "category_id": record["label"], "bbox": [x1, y1, x2 - x1, y2 - y1],
                  "score": record["score"]}
        if "mask" in record:
            result["segmentation"] = record["mask"]
        if "keypoints" in record:  # COCO's [x1, y1, v1, ...]
            result["keypoints"] = [v for x, y in record["keypoints"] for v in (x, y, 1)]
        results.append(result)
    return results


class ImageIds:
    """A COCO image id for each input file: from an annotation file's ``images`` (matched by file name) when one is
    given, else the file name's number (COCO's ``000000397133.jpg`` is image 397133)."""

    def __init__(self, ann_file: Optional[str] = None):
        self.ann_file = ann_file
        self.by_name: dict[str, int] = {}
        if ann_file is not None:
            for image in load_coco(ann_file).dataset.get("images", []):
                self.by_name[os.path.basename(image["file_name"])] = int(image["id"])

    def id_of(self, path: str) -> Optional[int]:
        name = os.path.basename(path)
        if self.ann_file is not None:
            return self.by_name.get(name)
        stem = os.path.splitext(name)[0]
        return int(stem) if stem.isdigit() else None

    def missing(self, paths: Sequence[str]) -> list[str]:
        return [path for path in paths if self.id_of(path) is None]
