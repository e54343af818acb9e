"""Each class's COCO figures, read from one COCOeval's accumulated precision, and its precision-recall curves.

A class's AP, AP50, AP75 and AP small / medium / large are what COCOeval's summary would print were the class the
only one (``params.catIds = [c]``): the mean of its precision over IoU thresholds and COCOeval's 101 recall points,
at 100 detections per image, -1 entries (no object of that size) left out (nan when none is left).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from pycocotools.coco import COCO

from ..engine.coco_evaluation import mean_precision

#: The per-class columns: (name, IoU threshold or None for 0.50:0.95, area range).
CLASS_FIGURES = (("AP", None, "all"), ("AP50", 0.5, "all"), ("AP75", 0.75, "all"), ("APs", None, "small"),
                 ("APm", None, "medium"), ("APl", None, "large"))


def per_class_figures(coco_gt: COCO, evaluator, results: Sequence[dict[str, Any]], score_thresh: float,
                      false_positive: Sequence[bool]) -> list[dict[str, Any]]:
    """One row per category of the evaluator: its :data:`CLASS_FIGURES`, ``objects`` (not crowd), ``predictions``
    scoring >= ``score_thresh``, and of them ``false_positives`` (``false_positive[i]``: result i is one), worst AP
    first."""
    image_ids = list(evaluator.params.imgIds)
    confident_of: dict[int, list[int]] = {}
    for i, r in enumerate(results):
        if r["score"] >= score_thresh:
            confident_of.setdefault(r["category_id"], []).append(i)
    rows = []
    for k, category_id in enumerate(evaluator.params.catIds):
        row: dict[str, Any] = {"category_id": int(category_id), "name": coco_gt.cats[category_id]["name"]}
        for name, iou, area in CLASS_FIGURES:
            row[name] = mean_precision(evaluator, iou=iou, area=area, category_index=k)
        row["objects"] = len(coco_gt.getAnnIds(imgIds=image_ids, catIds=[category_id], iscrowd=False))
        confident = confident_of.get(category_id, [])
        row["predictions"] = len(confident)
        row["false_positives"] = sum(1 for i in confident if false_positive[i])
        rows.append(row)
    return sorted(rows, key=lambda row: (np.nan_to_num(row["AP"], nan=2.0), row["name"]))


def precision_recall_curves(evaluator, iou: float) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{category id: (recall points, precision)}`` at IoU ``iou``, all areas, 100 detections (COCOeval's
    interpolated precision; recall points the class never reaches are left out)."""
    params = evaluator.params
    t = int(np.flatnonzero(np.isclose(np.asarray(params.iouThrs), iou))[0])
    area = list(params.areaRngLbl).index("all")
    precision = evaluator.eval["precision"][t, :, :, area, -1]
    recall = np.asarray(params.recThrs)
    curves = {}
    for k, category_id in enumerate(params.catIds):
        valid = precision[:, k] > 0
        curves[int(category_id)] = (recall[valid], precision[valid, k])
    return curves
