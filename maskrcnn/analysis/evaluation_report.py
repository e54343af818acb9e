"""Every figure of "why is my AP low?" for one results file, as plain data: :func:`build_report`.

``report.data`` is JSON (what ``report.json`` holds): the COCO summary, per-class figures, TIDE's error breakdown
(:mod:`.error_types`), the class confusion matrix at IoU 0.5 (:mod:`.confusion`), the proposals section when a model
was run (:mod:`.proposal_recall`), the images with the most errors and the findings (:mod:`.findings`). The
arrays the plots need (precision-recall curves, each detection's error type) stay in Python on the object.
Figures named "AP50" in the error section are COCOeval's AP at IoU 0.5, all areas, 100 detections.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO

from ..engine.coco_evaluation import STAT_NAMES, quietly, run_cocoeval, usable_results
from .confusion import ConfusionMatrix, confusion_matrix
from .error_types import ErrorBreakdown, analyse_errors
from .findings import Advice, findings
from .per_class import per_class_figures, precision_recall_curves

#: PR curves are drawn at these IoUs.
CURVE_IOUS = (0.5, 0.75)


@dataclass
class EvaluationReport:
    data: dict[str, Any]
    #: iou type -> COCO results usable for it (indices of the breakdown's detections)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    breakdowns: dict[str, ErrorBreakdown] = field(default_factory=dict)
    #: iou type -> IoU -> category id -> (recall, precision)
    curves: dict[str, dict[float, dict[int, tuple[np.ndarray, np.ndarray]]]] = field(default_factory=dict)
    confusion: Optional[ConfusionMatrix] = None

    @property
    def primary(self) -> str:
        """The IoU type the findings speak of: segm where masks were scored, else bbox."""
        return self.data["primary"]


def image_errors(breakdown: ErrorBreakdown, results: Sequence[dict[str, Any]], score_thresh: float
                 ) -> dict[int, dict[str, int]]:
    """Per image: false positives by type among the detections scoring >= ``score_thresh``, and ``missed``: objects
    no such detection matched."""
    per_image: dict[int, dict[str, int]] = {}
    found = set()
    for index, kind in breakdown.detection_type.items():
        if breakdown.scores[index] < score_thresh:
            continue
        if kind == "tp":
            found.add(breakdown.detection_object[index])
        elif kind != "ignored":
            counts = per_image.setdefault(int(results[index]["image_id"]), {})
            counts[kind] = counts.get(kind, 0) + 1
    for image_id in breakdown.image_ids:
        for ann_id in breakdown.objects_of_image.get(image_id, []):
            if ann_id not in found:
                counts = per_image.setdefault(image_id, {})
                counts["missed"] = counts.get("missed", 0) + 1
    return per_image


#: Score histogram bins of the scores section.
SCORE_BINS = np.linspace(0.0, 1.0, 21)


def score_histograms(breakdown: ErrorBreakdown) -> dict[str, Any]:
    """Scores of the true and false positives: histograms over :data:`SCORE_BINS`, and the true positives' median."""
    scored = [(breakdown.scores[i], kind) for i, kind in breakdown.detection_type.items() if kind != "ignored"]
    true = np.array([score for score, kind in scored if kind == "tp"])
    false = np.array([score for score, kind in scored if kind != "tp"])
    return {"bins": SCORE_BINS.tolist(), "tp": np.histogram(true, SCORE_BINS)[0].tolist(),
            "fp": np.histogram(false, SCORE_BINS)[0].tolist(),
            "tp_median": float(np.median(true)) if len(true) else None}


def build_report(coco_gt: COCO, results: Sequence[dict[str, Any]], iou_types: Sequence[str], *,
                 image_ids: Optional[Sequence[int]] = None, score_thresh: float = 0.5, backend: str = "pycocotools",
                 proposals: Optional[dict[str, Any]] = None, training: Optional[dict[str, Any]] = None,
                 worst: int = 8, notes: Sequence[str] = (), meta: Optional[dict[str, Any]] = None,
                 advice: Optional[Advice] = None) -> EvaluationReport:
    """The report of ``results`` against ``coco_gt`` for ``iou_types``. ``proposals``: the proposals section's data
    (RPN recall and anchor coverage), when a model was run; ``training``: what the checkpoint says of its run
    (epochs, learning rate, the recipe's), for the findings; ``notes``: lines stated at the top of the page;
    ``advice``: how the findings name settings (:class:`~.findings.Advice`)."""
    image_ids = sorted(set(int(i) for i in (image_ids if image_ids is not None else coco_gt.getImgIds())))
    report = EvaluationReport({"meta": {**(meta or {}), "images": len(image_ids), "score_thresh": score_thresh,
                                        "backend": backend, "iou_types": list(iou_types)},
                               "notes": list(notes), "summary": {}, "per_class": {}, "errors": {}})
    report.data["primary"] = "segm" if "segm" in iou_types else "bbox"
    for iou_type in iou_types:
        usable = usable_results(results, iou_type)
        report.results[iou_type] = usable
        evaluator = run_cocoeval(coco_gt, usable, iou_type, image_ids, backend)
        breakdown = analyse_errors(coco_gt, usable, iou_type, image_ids, backend)
        report.breakdowns[iou_type] = breakdown
        report.data["errors"][iou_type] = breakdown.to_dict(coco_gt, score_thresh)
        report.data.setdefault("scores", {})[iou_type] = score_histograms(breakdown)
        if evaluator is None:
            report.data["summary"][iou_type] = {name: 0.0 for name in STAT_NAMES}
            continue
        quietly(evaluator.summarize)  # fills evaluator.stats
        # -1: no object of that size (COCOeval's mark), nan here (null in report.json, a dash on the page)
        report.data["summary"][iou_type] = {name: float(v) if v >= 0 else float("nan")
                                            for name, v in zip(STAT_NAMES, evaluator.stats)}
        false_positive = [breakdown.detection_type.get(i, "tp") not in ("tp", "ignored") for i in range(len(usable))]
        report.data["per_class"][iou_type] = per_class_figures(coco_gt, evaluator, usable, score_thresh,
                                                               false_positive)
        report.curves[iou_type] = {iou: precision_recall_curves(evaluator, iou) for iou in CURVE_IOUS}
    report.confusion = confusion_matrix(coco_gt, results, "bbox", score_thresh, image_ids)
    report.data["confusion"] = report.confusion.to_dict()
    report.data["proposals"] = proposals
    report.data["training"] = training
    primary = report.breakdowns[report.primary]
    per_image = image_errors(primary, report.results[report.primary], score_thresh)
    ranked = sorted(per_image.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:worst]
    report.data["worst_images"] = [{"image_id": image_id, "file_name": coco_gt.imgs[image_id].get("file_name", ""),
                                    "errors": sum(counts.values()), "by_type": counts} for image_id, counts in ranked]
    report.data["findings"] = findings(report.data, report.confusion, advice)
    return report
