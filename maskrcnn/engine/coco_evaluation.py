"""COCO-style evaluation with pycocotools' COCOeval (or faster-coco-eval's): model outputs -> COCO results -> AP
tables.

Results follow the COCO results format: ``{"image_id", "category_id", "bbox": [x, y, w, h], "score",
"segmentation": RLE}``; a mask is the model's probability map cut at 0.5 (torchvision's reference does the same).
A model's labels become the dataset's category ids through its :class:`~maskrcnn.categories.Categories`.
"""
from __future__ import annotations

import contextlib
import copy
import io
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..roi_heads.mask_paste import MASK_THRESHOLD

#: The 12 numbers of COCOeval.summarize(), in its order.
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
#: The 10 numbers of its keypoint summary (OKS instead of IoU; no small objects, 20 detections per image).
KEYPOINT_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
IOU_TYPES = ("bbox", "segm")
#: OKS's per-keypoint spread for a keypoint set other than COCO's 17 person keypoints (whose own sigmas COCOeval
#: knows), unless the ground truth's category gives ``keypoint_sigmas``: COCO's eyes are 0.025, its hips 0.107.
DEFAULT_KEYPOINT_SIGMA = 0.05
#: The result field each IoU type scores.
RESULT_FIELD = {"bbox": "bbox", "segm": "segmentation", "keypoints": "keypoints"}


def stat_names(iou_type: str) -> tuple[str, ...]:
    return KEYPOINT_STAT_NAMES if iou_type == "keypoints" else STAT_NAMES


def keypoint_sigmas(coco_gt: COCO, count: int) -> Optional[np.ndarray]:
    """OKS sigmas for ``count`` keypoints: the category's ``keypoint_sigmas``, COCOeval's own for 17 (None), else
    :data:`DEFAULT_KEYPOINT_SIGMA` each."""
    for category in coco_gt.dataset.get("categories", []):
        if category.get("keypoint_sigmas"):
            return np.asarray(category["keypoint_sigmas"], dtype=float)
    return None if count == 17 else np.full(count, DEFAULT_KEYPOINT_SIGMA)


def prediction_to_results(image_id: int, prediction: dict[str, Any], category_ids: Optional[Sequence[int]] = None
                          ) -> list[dict[str, Any]]:
    """One image's model output (tensors on any device) as COCO result records; ``category_ids[label]`` is the
    category id of a label (None: the label is the id)."""
    boxes = prediction["boxes"].detach().cpu().double().numpy()
    scores = prediction["scores"].detach().cpu().tolist()
    labels = prediction["labels"].detach().cpu().tolist()
    masks = prediction.get("masks")
    rles: Sequence[Optional[dict]] = [None] * len(scores)
    if masks is not None and len(scores):
        binary = (masks.detach()[:, 0] > MASK_THRESHOLD).cpu().numpy().astype(np.uint8)
        rles = coco_mask.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
    results = []
    for box, score, label, rle in zip(boxes, scores, labels, rles):
        category_id = category_ids[label] if category_ids is not None else label
        record = {"image_id": int(image_id), "category_id": int(category_id),
                  "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                  "score": float(score)}
        if rle is not None:
            record["segmentation"] = {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
        results.append(record)
    if "keypoints" in prediction:  # COCO's [x1, y1, v1, x2, ...] (v is 1: COCOeval reads x and y only)
        for record, points in zip(results, prediction["keypoints"].detach().cpu().double().flatten(1).tolist()):
            record["keypoints"] = [float(v) for v in points]
    return results


def quietly(function, *args):
    """``(function(*args), what it printed)``: pycocotools prints progress and tables on stdout."""
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        value = function(*args)
    return value, captured.getvalue()


#: ``backend=``: pycocotools' COCOeval (Python), or faster-coco-eval's C++ reimplementation of it (the ``fast-eval``
#: extra), which gives the same figures several times faster on large sets.
BACKENDS = ("pycocotools", "faster-coco-eval")


def _evaluator(backend: str, coco_gt: COCO, coco_dt, iou_type: str):
    """The backend's COCOeval for the pair; faster-coco-eval indexes the ground truth itself."""
    if backend == "pycocotools":
        return COCOeval(coco_gt, coco_dt, iou_type)
    faster = require_faster_coco_eval()
    gt = faster.COCO(copy.deepcopy(coco_gt.dataset))  # it converts the annotations in place (RLE counts to bytes)
    dt = gt.loadRes(copy.deepcopy(coco_dt.dataset["annotations"]))
    return faster.COCOeval_faster(gt, dt, iou_type, print_function=print)  # the summary on stdout, as pycocotools


def require_faster_coco_eval():
    try:
        import faster_coco_eval
    except ImportError:
        raise ValueError('backend faster-coco-eval needs the package: pip install -e ".[fast-eval]"') from None
    return faster_coco_eval


def evaluate_results(coco_gt: COCO, results: list[dict[str, Any]], iou_types: Iterable[str] = IOU_TYPES,
                     image_ids: Optional[Sequence[int]] = None, per_class: bool = False,
                     backend: str = "pycocotools") -> tuple[dict, str]:
    """COCOeval of ``results`` against ``coco_gt``: ``(metrics, printed table)``, by ``backend`` (:data:`BACKENDS`).

    ``metrics[iou_type]`` maps :data:`STAT_NAMES` to floats (0 where nothing was detected); with ``per_class`` it
    also holds ``"per_class": {category name: AP}``. ``image_ids`` limits evaluation to those images (all images of
    the ground truth by default).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    metrics: dict[str, Any] = {}
    table = []
    for iou_type in iou_types:
        evaluator = run_cocoeval(coco_gt, results, iou_type, image_ids, backend)
        if evaluator is None:
            metrics[iou_type] = {name: 0.0 for name in stat_names(iou_type)}
            table.append(f"{iou_type}: no detections, every metric is 0")
            continue
        _, printed = quietly(evaluator.summarize)
        table.append(f"IoU metric: {iou_type}\n{printed.rstrip()}")
        values = {name: float(max(value, 0.0)) for name, value in zip(stat_names(iou_type), evaluator.stats)}
        if per_class:
            values["per_class"] = per_class_ap(coco_gt, evaluator)
            table.append(format_per_class(values["per_class"]))
        metrics[iou_type] = values
    return metrics, "\n".join(table)


def usable_results(results: Sequence[dict[str, Any]], iou_type: str) -> list[dict[str, Any]]:
    """The records an IoU type can score: all for bbox, those with a ``segmentation`` for segm, with ``keypoints``
    for keypoints."""
    return [r for r in results if RESULT_FIELD[iou_type] in r]


def run_cocoeval(coco_gt: COCO, results: Sequence[dict[str, Any]], iou_type: str,
                 image_ids: Optional[Sequence[int]] = None, backend: str = "pycocotools", configure=None):
    """The backend's COCOeval of ``results`` (:func:`usable_results` of them), evaluated and accumulated, quietly;
    None when no record is usable. ``configure(params)`` may change its parameters (IoU thresholds, areas, maximum
    detections, ``useCats``) before it runs. The detections' COCO ids are their positions in the usable records + 1
    (``loadRes`` numbers them so)."""
    usable = usable_results(results, iou_type)
    if not usable:
        return None
    coco_dt, _ = quietly(coco_gt.loadRes, [dict(r) for r in usable])  # loadRes modifies its records
    evaluator = _evaluator(backend, coco_gt, coco_dt, iou_type)
    if iou_type == "keypoints":
        sigmas = keypoint_sigmas(coco_gt, len(usable[0]["keypoints"]) // 3)
        if sigmas is not None:
            evaluator.params.kpt_oks_sigmas = sigmas
    if image_ids is not None:
        evaluator.params.imgIds = sorted(set(int(i) for i in image_ids))
    if configure is not None:
        configure(evaluator.params)
    quietly(evaluator.evaluate)
    quietly(evaluator.accumulate)
    return evaluator


def mean_precision(evaluator, iou: Optional[float] = None, area: str = "all", category_index: Optional[int] = None
                   ) -> float:
    """An AP as COCOeval's summary computes it: the mean of the accumulated precision over IoU thresholds (or at
    ``iou``), recall points and categories (or the one at ``category_index``), at ``area`` and the largest maximum
    number of detections; entries of -1 (no ground truth) left out; nan when nothing is left."""
    params = evaluator.params
    precision = evaluator.eval["precision"]  # [IoU thresholds, recall points, categories, areas, max dets]
    if iou is not None:
        precision = precision[np.flatnonzero(np.isclose(np.asarray(params.iouThrs), iou))]
    precision = precision[:, :, :, list(params.areaRngLbl).index(area), -1]
    if category_index is not None:
        precision = precision[:, :, category_index]
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else float("nan")


def per_class_ap(coco_gt: COCO, evaluator: COCOeval) -> dict[str, float]:
    """AP (IoU 0.50:0.95, all areas, 100 detections) of each category, as COCOeval's summary computes AP."""
    return {coco_gt.cats[category_id]["name"]: mean_precision(evaluator, category_index=k)
            for k, category_id in enumerate(evaluator.params.catIds)}


def format_per_class(values: dict[str, float]) -> str:
    width = max((len(n) for n in values), default=8)
    return "\n".join([f"{'category':<{width}}  AP"] + [f"{name:<{width}}  {ap:.3f}" for name, ap in values.items()])
