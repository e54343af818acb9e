"""The evaluation report as a static page: ``index.html`` and its PNG charts in one folder, readable offline.

Sections, in order: notes, findings (each linking to the section it rests on), summary, per class (worst AP first,
PR curves), where the AP goes (TIDE's error types), confusion matrix, proposals (with a model), scores, the worst
images, training. The look is the inspect page's (:mod:`visualization.html_report`).
"""
from __future__ import annotations

import html
import os
from typing import Any, Callable, Optional

import numpy as np

from . import report_plots
from .error_views import error_view
from .grid import write_rgb
from .html_report import STYLE

TABLE_STYLE = ("table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ddd;"
               "padding:.25em .6em;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child"
               "{text-align:left}ol li{margin:.4em 0}.muted{color:#777}")
IOU_LABELS = {"bbox": "box", "segm": "mask"}


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "&ndash;"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_number(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(name: str, caption: str) -> str:
    return f"<figure><img src='{name}.png' alt='{html.escape(caption)}'><figcaption>{html.escape(caption)}" \
           f"</figcaption></figure>"


def _worst_images(folder: str, report, coco_gt, read_image: Optional[Callable[[int], np.ndarray]]) -> list[str]:
    data = report.data
    if not data["worst_images"]:
        return ["<p>No image has an error at this score threshold.</p>"]
    if read_image is None:
        rows = [[w["file_name"], w["errors"], ", ".join(f"{k} {v}" for k, v in w["by_type"].items())]
                for w in data["worst_images"]]
        return ["<p class='note'>The images were not found (eval.py --results without --images): their names and "
                "errors only.</p>", _table(["image", "errors", "by type"], rows)]
    breakdown = report.breakdowns[report.primary]
    results = report.results[report.primary]
    threshold = data["meta"]["score_thresh"]
    names = {c: coco_gt.cats[c]["name"] for c in coco_gt.cats}
    shown = {worst["image_id"] for worst in data["worst_images"]}
    found: set[int] = set()
    detections_of: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in shown}
    for i, kind in breakdown.detection_type.items():  # one pass over the detections over the score
        if kind == "ignored" or breakdown.scores[i] < threshold:
            continue
        if kind == "tp":
            found.add(breakdown.detection_object[i])
        image_id = int(results[i]["image_id"])
        if image_id in shown:
            detections_of[image_id].append({"bbox": results[i]["bbox"], "score": breakdown.scores[i], "kind": kind,
                                            "name": names.get(results[i]["category_id"], "?")})
    parts = []
    for rank, worst in enumerate(data["worst_images"]):
        image_id = worst["image_id"]
        objects = [{"bbox": coco_gt.anns[a]["bbox"], "name": names[coco_gt.anns[a]["category_id"]],
                    "found": a in found} for a in breakdown.objects_of_image.get(image_id, [])]
        detections = detections_of[image_id]
        picture = error_view(read_image(image_id), objects, detections)
        write_rgb(os.path.join(folder, f"worst_{rank}.png"), picture)
        counts = ", ".join(f"{k} {v}" for k, v in worst["by_type"].items())
        parts.append(_figure(f"worst_{rank}", f"{worst['file_name']} (image {image_id}): {worst['errors']} errors "
                                              f"({counts}). Left: the objects (grey: missed); right: the detections "
                                              f"scoring >= {threshold:g}, coloured by error type."))
    return parts


def write_report_page(folder: str, report, coco_gt, title: str,
                      read_image: Optional[Callable[[int], np.ndarray]] = None) -> str:
    """Writes the charts and ``index.html`` of ``report`` (:class:`maskrcnn.analysis.EvaluationReport`) into
    ``folder``; ``read_image(image_id)`` gives an RGB image for the worst-image drawings (None: names only). Returns
    the page's path."""
    from maskrcnn.analysis.error_types import ERROR_NAMES, ERROR_TYPES
    from maskrcnn.analysis.per_class import CLASS_FIGURES
    from maskrcnn.engine.coco_evaluation import STAT_NAMES
    os.makedirs(folder, exist_ok=True)
    data = report.data
    threshold = data["meta"]["score_thresh"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}{TABLE_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    meta = data["meta"]
    described = ", ".join(f"{k}: {v}" for k, v in meta.items() if k in ("weights", "results", "data", "images"))
    parts.append(f"<p class='muted'>{html.escape(described)}; COCOeval by {html.escape(meta['backend'])}</p>")
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in data["notes"]]

    parts.append("<h2 id='findings'>Findings</h2>")
    if data["findings"]:
        parts.append("<ol>" + "".join(f"<li>{html.escape(f['text'])} <a href='#{f['figure']}'>[{f['figure']}]</a>"
                                      f"</li>" for f in data["findings"]) + "</ol>")
    else:
        parts.append("<p>No error type costs 0.01 AP50 or more.</p>")

    parts.append("<h2 id='summary'>Summary</h2>")
    parts.append(_table(["IoU type"] + list(STAT_NAMES),
                        [[IOU_LABELS[t]] + [v[name] for name in STAT_NAMES] for t, v in data["summary"].items()]))

    parts.append("<h2 id='per-class'>Per class (worst AP first)</h2>")
    columns = [name for name, _, _ in CLASS_FIGURES]
    for iou_type, rows in data["per_class"].items():
        parts.append(f"<p>{IOU_LABELS[iou_type]}: predictions and false positives (IoU 0.5) scoring >= "
                     f"{threshold:g}</p>")
        parts.append(_table(["class"] + columns + ["objects", "predictions", "false positives"],
                            [[r["name"]] + [r[c] for c in columns] + [r["objects"], r["predictions"],
                                                                      r["false_positives"]] for r in rows]))
        report_plots.pr_curves(report, iou_type, os.path.join(folder, f"pr_{iou_type}.png"))
        parts.append(_figure(f"pr_{iou_type}", f"{IOU_LABELS[iou_type]}: precision-recall per class at IoU 0.5 and "
                                               f"0.75 (COCOeval's interpolated precision, 100 detections)"))

    parts.append("<h2 id='errors'>Where the AP goes</h2>")
    header = ["IoU type", "AP50"] + [ERROR_NAMES[k] for k in ERROR_TYPES] + ["all false positives",
                                                                            "all false negatives"]
    parts.append(_table(header, [[IOU_LABELS[t], e["ap50"]] + [e["delta_ap"][k] for k in ERROR_TYPES]
                                 + [e["delta_ap"]["false_positives"], e["delta_ap"]["false_negatives"]]
                                 for t, e in data["errors"].items()]))
    parts.append(_table(["IoU type"] + [f"{ERROR_NAMES[k]} (count)" for k in ERROR_TYPES],
                        [[IOU_LABELS[t]] + [e["counts"][k] for k in ERROR_TYPES] for t, e in data["errors"].items()]))
    report_plots.error_chart(data, os.path.join(folder, "errors.png"))
    parts.append(_figure("errors", "dAP: the AP at IoU 0.5 that fixing each error type alone would add (TIDE's "
                                   "definitions on COCOeval's matches); false positives of each type and misses"))

    parts.append("<h2 id='confusion'>Confusion matrix</h2>")
    report_plots.confusion_picture(data, os.path.join(folder, "confusion.png"))
    parts.append(_figure("confusion", "Objects (rows, last: background, i.e. detections matching no object) against "
                                      "the class they were detected as (columns, last: missed), matched at box IoU "
                                      "0.5 regardless of class"))

    parts.append("<h2 id='proposals'>Proposals</h2>")
    proposals = data.get("proposals")
    if proposals and proposals.get("recall"):
        report_plots.proposals_chart(data, os.path.join(folder, "proposals.png"))
        parts.append(_figure("proposals", f"The RPN's recall of the objects by its top-k proposals on "
                                          f"{proposals['images']} images, by object size in the model's resized "
                                          f"frame, next to the share whose best anchor overlaps them at IoU >= 0.7"))
        anchors = proposals.get("anchors") or {}
        if anchors.get("current"):
            rows = [[label, ", ".join(str(s[0]) if isinstance(s, list) else str(s) for s in a["sizes"]),
                     ", ".join(f"{r:g}" for r in a["aspect_ratios"])] + [a["coverage"].get(s) for s in
                                                                         ("all", "small", "medium", "large")]
                    for label, a in (("current", anchors["current"]), ("suggested", anchors.get("suggested")))
                    if a]
            parts.append(_table(["anchors", "sizes (px)", "ratios (h/w)", "cover all", "small", "medium", "large"],
                                rows))
    else:
        parts.append(f"<p>{html.escape((proposals or {}).get('note', 'Not measured: no model was run.'))}</p>")

    parts.append("<h2 id='scores'>Scores</h2>")
    report_plots.scores_chart(data, os.path.join(folder, "scores.png"))
    parts.append(_figure("scores", f"True and false positives by score; the dashed line is the report's score "
                                   f"threshold ({threshold:g})"))

    parts.append("<h2 id='worst'>The worst images</h2>")
    parts += _worst_images(folder, report, coco_gt, read_image)

    if data.get("training"):
        parts.append("<h2 id='training'>Training</h2>")
        parts.append(_table(["", "value"], [[k.replace("_", " "), v] for k, v in data["training"].items()]))
    parts.append("</body></html>")
    path = os.path.join(folder, "index.html")
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write("\n".join(parts))
    os.replace(temporary, path)
    return path
