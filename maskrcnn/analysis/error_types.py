"""Where the AP goes: TIDE's error types (Bolya et al., ECCV 2020) on COCOeval's own matches.

COCOeval, run at IoU 0.5 (all areas, its 100 best detections per image and category), says of every detection it
scores whether it is a true positive, ignored (it matched a crowd region) or a false positive, and which object each
true positive matched. Each false positive is then named by its IoU with the image's objects, in TIDE's order, with
TIDE's foreground and background thresholds ``t_f = 0.5`` and ``t_b = 0.1``:

=========  ===============================================================================================
``loc``    its best IoU with an object of its own class is in ``[t_b, t_f)``: found, badly placed
``cls``    IoU >= ``t_f`` with an object of another class: right place, wrong class
``dupe``   IoU >= ``t_f`` with an object of its class that a higher-scored detection already matched
``bkg``    IoU <= ``t_b`` with every object: a detection on the background
``both``   anything else (IoU in ``(t_b, t_f)`` with an object of another class only)
``miss``   an object that no detection matched, and that no ``cls`` or ``loc`` error points at
=========  ===============================================================================================

The dAP of a type is the AP50 gained by fixing only that type's errors and running COCOeval again (TIDE's
"oracle"): a ``cls`` or ``loc`` error on an object no detection matched becomes a true positive (the best-scored
one per object: it takes the object's class and geometry; the others are removed); any other ``cls`` / ``loc``
error, and every ``dupe``, ``bkg`` and ``both`` error, is removed; a ``miss`` is taken out of the ground truth.
``false_positives`` removes every false positive and ``false_negatives`` takes every unmatched object out (TIDE's
special errors: perfect precision, perfect recall). Negative gains (interpolation effects) count as 0, as in TIDE.

A class whose every object is taken out has no objects left: COCOeval leaves it out of the mean AP, where TIDE
counts it at AP 0 (so ``miss`` and ``false_negatives`` can be larger here than in TIDE).
IoU is box IoU for ``bbox``, mask IoU for ``segm`` (pycocotools' ``mask.iou``, as COCOeval). TIDE matches with its
own code and scores detections per image rather than per image and category; here COCOeval does both, so figures
can differ slightly from the ``tidecv`` package on crowded images.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from ..engine.coco_evaluation import mean_precision, quietly, run_cocoeval, usable_results

FOREGROUND_IOU = 0.5
BACKGROUND_IOU = 0.1
#: TIDE's main error types, in its order.
ERROR_TYPES = ("cls", "loc", "both", "dupe", "bkg", "miss")
ERROR_NAMES = {"cls": "classification", "loc": "localisation", "both": "both (class and place)",
               "dupe": "duplicate", "bkg": "background", "miss": "missed"}
SPECIAL_ERRORS = ("false_positives", "false_negatives")
#: COCO's object sizes by area (pixels of the image): small < 32², medium < 96², large.
SIZE_NAMES = ("small", "medium", "large")


def size_of(area: float) -> str:
    return "small" if area < 32 ** 2 else "medium" if area < 96 ** 2 else "large"


@dataclass
class ErrorBreakdown:
    """One IoU type's errors. Detections are indexed by their position in the (usable) results list."""
    iou_type: str
    #: COCOeval's AP at IoU 0.5 (all areas, 100 detections): the AP the dAPs add to
    ap50: float
    #: AP50 gained by fixing each of :data:`ERROR_TYPES` alone, and the :data:`SPECIAL_ERRORS`
    delta_ap: dict[str, float]
    #: "tp", "ignored" or an error type, for every detection COCOeval scored
    detection_type: dict[int, str]
    #: the object (ground-truth annotation id) a detection matched (tp) or is compared with (cls, loc, dupe)
    detection_object: dict[int, int]
    #: objects no detection matched; of them, the ``miss`` errors
    unmatched: list[int]
    missed: list[int]
    #: scores of the detections
    scores: dict[int, float] = field(default_factory=dict)
    #: the evaluated images, and the objects (not crowd, not ignored) of each
    image_ids: list[int] = field(default_factory=list)
    objects_of_image: dict[int, list[int]] = field(default_factory=dict)

    def counts(self, score_thresh: float = 0.0) -> dict[str, int]:
        """False positives of each type with a score >= ``score_thresh``, and the misses (at every score)."""
        counts = {name: 0 for name in ERROR_TYPES}
        for index, kind in self.detection_type.items():
            if kind in counts and self.scores[index] >= score_thresh:
                counts[kind] += 1
        counts["miss"] = len(self.missed)
        return counts

    def missed_by_size(self, coco_gt: COCO) -> dict[str, int]:
        sizes = {name: 0 for name in SIZE_NAMES}
        for ann_id in self.missed:
            sizes[size_of(coco_gt.anns[ann_id]["area"])] += 1
        return sizes

    def to_dict(self, coco_gt: COCO, score_thresh: float) -> dict[str, Any]:
        return {"ap50": self.ap50, "delta_ap": self.delta_ap, "counts": self.counts(),
                f"counts_score_{score_thresh:g}": self.counts(score_thresh),
                "missed_by_size": self.missed_by_size(coco_gt)}


def _at_foreground_iou(params) -> None:
    """COCOeval at IoU 0.5 only, all areas, 100 detections: the figures TIDE's dAPs are on."""
    params.iouThrs = np.array([FOREGROUND_IOU])
    params.areaRng = [[0, 1e10]]
    params.areaRngLbl = ["all"]
    params.maxDets = [100]


def ap50(coco_gt: COCO, results: Sequence[dict[str, Any]], iou_type: str, image_ids: Sequence[int],
         backend: str = "pycocotools") -> float:
    """COCOeval's AP at IoU 0.5 (all areas, 100 detections); 0 without detections."""
    evaluator = run_cocoeval(coco_gt, results, iou_type, image_ids, backend, configure=_at_foreground_iou)
    if evaluator is None:
        return 0.0
    value = mean_precision(evaluator)
    return 0.0 if np.isnan(value) else value


def _geometry(coco: COCO, ann: dict[str, Any], iou_type: str):
    return ann["bbox"] if iou_type == "bbox" else coco.annToRLE(ann)


def _tide_type(same_class: np.ndarray, other_class: np.ndarray, used: np.ndarray) -> tuple[str, int]:
    """A false positive's error type from its IoUs with the image's objects (``same_class`` / ``other_class``:
    IoU with objects of its class / of other classes, 0 elsewhere; ``used``: objects already matched), and the index
    of the object it is compared with (-1 for none)."""
    if same_class.size == 0:
        return "bkg", -1
    best = int(same_class.argmax())
    if BACKGROUND_IOU <= same_class[best] < FOREGROUND_IOU:
        return "loc", best
    best_other = int(other_class.argmax())
    if other_class[best_other] >= FOREGROUND_IOU:
        return "cls", best_other
    used_same = same_class * used
    best_used = int(used_same.argmax())
    if used_same[best_used] >= FOREGROUND_IOU:
        return "dupe", best_used
    if max(same_class.max(), other_class.max()) <= BACKGROUND_IOU:
        return "bkg", -1
    return "both", -1


def analyse_errors(coco_gt: COCO, results: Sequence[dict[str, Any]], iou_type: str,
                   image_ids: Optional[Sequence[int]] = None, backend: str = "pycocotools") -> ErrorBreakdown:
    """TIDE's error breakdown of ``results`` (COCO result records) for ``iou_type`` ("bbox" or "segm").

    The matches come from pycocotools' COCOeval; the fixed results are scored by ``backend``'s."""
    results = usable_results(results, iou_type)
    image_ids = sorted(set(int(i) for i in (image_ids if image_ids is not None else coco_gt.getImgIds())))
    evaluator = run_cocoeval(coco_gt, results, iou_type, image_ids, "pycocotools", configure=_at_foreground_iou)
    objects_of_image = {i: [a for a in coco_gt.getAnnIds(imgIds=i, iscrowd=False)
                            if not coco_gt.anns[a].get("ignore", 0)] for i in image_ids}
    if evaluator is None:  # nothing detected: every object is missed
        unmatched = [a for i in image_ids for a in objects_of_image[i]]
        delta = {name: 0.0 for name in ERROR_TYPES + SPECIAL_ERRORS}
        return ErrorBreakdown(iou_type, 0.0, delta, {}, {}, unmatched, list(unmatched), {}, image_ids,
                              objects_of_image)
    base = mean_precision(evaluator)
    base = 0.0 if np.isnan(base) else base
    coco_dt = evaluator.cocoDt
    kinds: dict[int, str] = {}
    objects: dict[int, int] = {}
    used: set[int] = set()
    false_positives: dict[int, list[int]] = defaultdict(list)  # image id -> detection ids
    for record in evaluator.evalImgs:
        if record is None:
            continue
        for dt_id, gt_id, ignored in zip(record["dtIds"], record["dtMatches"][0], record["dtIgnore"][0]):
            if ignored:
                kinds[dt_id - 1] = "ignored"
            elif gt_id > 0:
                kinds[dt_id - 1] = "tp"
                objects[dt_id - 1] = int(gt_id)
                used.add(int(gt_id))
            else:
                false_positives[record["image_id"]].append(dt_id)
    for image_id, dt_ids in false_positives.items():
        gt_ids = objects_of_image[image_id]
        detections = [coco_dt.anns[d] for d in dt_ids]
        if gt_ids:
            truths = [coco_gt.anns[g] for g in gt_ids]
            ious = np.asarray(coco_mask.iou([_geometry(coco_dt, d, iou_type) for d in detections],
                                            [_geometry(coco_gt, g, iou_type) for g in truths], [0] * len(truths)))
            ious = ious.reshape(len(detections), len(truths))
            truth_classes = np.array([g["category_id"] for g in truths])
            truth_used = np.array([g in used for g in gt_ids], dtype=float)
        for row, detection in enumerate(detections):
            if not gt_ids:
                kind, target = "bkg", -1
            else:
                same = truth_classes == detection["category_id"]
                kind, target = _tide_type(ious[row] * same, ious[row] * ~same, truth_used)
            kinds[detection["id"] - 1] = kind
            if target >= 0:
                objects[detection["id"] - 1] = gt_ids[target]
    all_objects = [a for i in image_ids for a in objects_of_image[i]]
    unmatched = [a for a in all_objects if a not in used]
    pointed_at = {objects[i] for i, kind in kinds.items() if kind in ("cls", "loc") and objects[i] not in used}
    missed = [a for a in unmatched if a not in pointed_at]
    breakdown = ErrorBreakdown(iou_type, base, {}, kinds, objects, unmatched, missed,
                               {i: float(r["score"]) for i, r in enumerate(results)}, image_ids, objects_of_image)
    breakdown.delta_ap = _delta_ap(coco_gt, results, breakdown, image_ids, backend)
    return breakdown


def _fixed_results(coco_gt: COCO, results: Sequence[dict[str, Any]], breakdown: ErrorBreakdown,
                   fix: Sequence[str]) -> list[dict[str, Any]]:
    """The scored results with the errors of the types in ``fix`` fixed (see the module's docstring)."""
    best_per_object: dict[int, int] = {}
    unmatched = set(breakdown.unmatched)
    for index, kind in breakdown.detection_type.items():
        if kind in fix and kind in ("cls", "loc"):
            target = breakdown.detection_object[index]
            if target in unmatched:
                if target not in best_per_object or breakdown.scores[index] > breakdown.scores[best_per_object[target]]:
                    best_per_object[target] = index
    fixed = []
    for index, kind in breakdown.detection_type.items():  # the detections COCOeval scored, nothing else
        record = dict(results[index])
        if kind in fix:
            if kind not in ("cls", "loc") or best_per_object.get(breakdown.detection_object[index]) != index:
                continue
            truth = coco_gt.anns[breakdown.detection_object[index]]
            record["category_id"] = truth["category_id"]
            record["bbox"] = list(truth["bbox"])
            if breakdown.iou_type == "segm":
                rle = coco_gt.annToRLE(truth)
                counts = rle["counts"]
                record["segmentation"] = {"size": list(rle["size"]),
                                          "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
        fixed.append(record)
    return fixed


def _without_objects(coco_gt: COCO, ann_ids: Sequence[int]) -> COCO:
    removed = set(ann_ids)
    dataset = dict(coco_gt.dataset)
    dataset["annotations"] = [copy.copy(a) for a in coco_gt.dataset["annotations"] if a["id"] not in removed]
    coco = COCO()
    coco.dataset = dataset
    quietly(coco.createIndex)
    return coco


def _delta_ap(coco_gt: COCO, results: Sequence[dict[str, Any]], breakdown: ErrorBreakdown,
              image_ids: Sequence[int], backend: str) -> dict[str, float]:
    iou_type = breakdown.iou_type
    scored = _fixed_results(coco_gt, results, breakdown, ())  # nothing fixed: what COCOeval scored
    fixed_ap = {}
    for kind in ERROR_TYPES:
        if kind == "miss":
            fixed_ap[kind] = ap50(_without_objects(coco_gt, breakdown.missed), scored, iou_type, image_ids, backend)
        else:
            fixed_ap[kind] = ap50(coco_gt, _fixed_results(coco_gt, results, breakdown, (kind,)), iou_type, image_ids,
                                  backend)
    kept = {i for i, kind in breakdown.detection_type.items() if kind in ("tp", "ignored")}
    no_false_positive = [dict(results[i]) for i in sorted(kept)]
    fixed_ap["false_positives"] = ap50(coco_gt, no_false_positive, iou_type, image_ids, backend)
    fixed_ap["false_negatives"] = ap50(_without_objects(coco_gt, breakdown.unmatched), scored, iou_type, image_ids,
                                       backend)
    return {kind: max(value - breakdown.ap50, 0.0) for kind, value in fixed_ap.items()}
