"""Which class a detector gives each object: a confusion matrix at IoU 0.5, background included.

COCOeval matches the detections (score >= a threshold) to the objects class-agnostically (``useCats=0``: each
detection, best score first, takes the unmatched object it overlaps most at IoU >= 0.5, whatever the classes), with
no cap on detections per image. Row = the object's class, column = the detection's class; the last row counts
detections that matched no object (background), the last column objects that no detection matched (missed).
Detections matched to crowd regions are left out. faster-coco-eval's ``PreviewResults.compute_confusion_matrix``
counts the same pairs (its extra columns: unmatched detections and objects per class).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO

from ..engine.coco_evaluation import run_cocoeval

MATCH_IOU = 0.5


@dataclass
class ConfusionMatrix:
    #: ``[K + 1, K + 1]`` counts: rows objects (last: background), columns detections (last: missed)
    counts: np.ndarray
    category_ids: list[int]
    names: list[str]
    score_thresh: float

    def confusions(self) -> list[tuple[str, str, int]]:
        """``(object class, detected as, count)`` off the diagonal between classes, most frequent first."""
        k = len(self.category_ids)
        pairs = [(self.names[i], self.names[j], int(self.counts[i, j])) for i in range(k) for j in range(k)
                 if i != j and self.counts[i, j] > 0]
        return sorted(pairs, key=lambda pair: -pair[2])

    def to_dict(self) -> dict[str, Any]:
        return {"score_thresh": self.score_thresh, "rows": self.names + ["background"],
                "columns": self.names + ["missed"], "counts": self.counts.astype(int).tolist()}


def confusion_matrix(coco_gt: COCO, results: Sequence[dict[str, Any]], iou_type: str = "bbox",
                     score_thresh: float = 0.5, image_ids: Optional[Sequence[int]] = None) -> ConfusionMatrix:
    category_ids = sorted(coco_gt.getCatIds())
    names = [coco_gt.cats[c]["name"] for c in category_ids]
    column = {c: i for i, c in enumerate(category_ids)}
    k = len(category_ids)
    counts = np.zeros((k + 1, k + 1), dtype=np.int64)
    kept = [r for r in results if r["score"] >= score_thresh]
    image_ids = sorted(set(int(i) for i in (image_ids if image_ids is not None else coco_gt.getImgIds())))

    def class_agnostic(params) -> None:
        params.useCats = 0
        params.iouThrs = np.array([MATCH_IOU])
        params.areaRng = [[0, 1e10]]
        params.areaRngLbl = ["all"]
        params.maxDets = [max(len(kept), 1)]

    evaluator = run_cocoeval(coco_gt, kept, iou_type, image_ids, configure=class_agnostic)
    if evaluator is None:
        for ann in coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=image_ids, iscrowd=False)):
            counts[column[ann["category_id"]], k] += 1
        return ConfusionMatrix(counts, category_ids, names, score_thresh)
    detections, objects = evaluator.cocoDt.anns, coco_gt.anns
    for record in evaluator.evalImgs:
        if record is None:
            continue
        for dt_id, gt_id, ignored in zip(record["dtIds"], record["dtMatches"][0], record["dtIgnore"][0]):
            if ignored:
                continue
            detected = column[detections[dt_id]["category_id"]]
            if gt_id > 0:
                counts[column[objects[int(gt_id)]["category_id"]], detected] += 1
            else:
                counts[k, detected] += 1
        for gt_id, dt_id, ignored in zip(record["gtIds"], record["gtMatches"][0], record["gtIgnore"]):
            if not ignored and dt_id == 0:
                counts[column[objects[gt_id]["category_id"]], k] += 1
    return ConfusionMatrix(counts, category_ids, names, score_thresh)
