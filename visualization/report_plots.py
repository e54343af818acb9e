"""The evaluation report's charts, drawn with matplotlib (the ``report`` extra) into PNG files.

Each function takes the report's data (:class:`maskrcnn.analysis.EvaluationReport`) and a path, writes one PNG and
returns nothing; matplotlib runs on its file-only backend (Agg), so no display is needed.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

#: One colour per TIDE error type (and true positives), shared by the charts and the worst-image drawings.
ERROR_COLORS = {"tp": "#2ca02c", "cls": "#d62728", "loc": "#ff7f0e", "both": "#9467bd", "dupe": "#8c564b",
                "bkg": "#e377c2", "miss": "#7f7f7f", "missed": "#7f7f7f"}
#: A dozen classes fit one PR chart; beyond, one small chart per class in a grid.
CLASSES_PER_CHART = 12


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('the report\'s charts need matplotlib: pip install -e ".[report]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(figure, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    require_matplotlib().close(figure)


def error_chart(data: dict[str, Any], path: str) -> None:
    """dAP per error type (bars, one group per IoU type), false positives by type, misses by size."""
    from maskrcnn.analysis.error_types import ERROR_NAMES, ERROR_TYPES, SIZE_NAMES
    plt = require_matplotlib()
    figure, (gains, false_positives, misses) = plt.subplots(1, 3, figsize=(13, 3.6),
                                                            gridspec_kw={"width_ratios": [2.2, 1.4, 1]})
    iou_types = list(data["errors"])
    width = 0.8 / len(iou_types)
    labels = [ERROR_NAMES[kind] for kind in ERROR_TYPES]
    for k, iou_type in enumerate(iou_types):
        values = [data["errors"][iou_type]["delta_ap"][kind] for kind in ERROR_TYPES]
        positions = np.arange(len(ERROR_TYPES)) + (k - (len(iou_types) - 1) / 2) * width
        bars = gains.barh(positions, values, height=width, label="box" if iou_type == "bbox" else "mask",
                          color=[ERROR_COLORS[kind] for kind in ERROR_TYPES], alpha=1.0 if k == 0 else 0.55,
                          edgecolor="black", linewidth=0.5)
        gains.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    gains.set_yticks(range(len(ERROR_TYPES)), labels)
    gains.invert_yaxis()
    gains.set_xlabel("AP50 recovered by fixing it (dAP)")
    gains.set_title("Where the AP goes" + (" (solid: box, pale: mask)" if len(iou_types) > 1 else ""))
    primary = data["errors"][data["primary"]]
    threshold = data["meta"]["score_thresh"]
    fp_counts = primary[f"counts_score_{threshold:g}"]
    kinds = [kind for kind in ERROR_TYPES if kind != "miss"]
    false_positives.bar([ERROR_NAMES[k].split(" ")[0] for k in kinds], [fp_counts[k] for k in kinds],
                        color=[ERROR_COLORS[k] for k in kinds])
    false_positives.set_title(f"False positives by type (score >= {threshold:g})")
    false_positives.tick_params(axis="x", labelrotation=30)
    misses.bar(SIZE_NAMES, [primary["missed_by_size"][s] for s in SIZE_NAMES], color=ERROR_COLORS["miss"])
    misses.set_title("Missed objects by size")
    _save(figure, path)


def pr_curves(report, iou_type: str, path: str) -> None:
    """Precision-recall curves per class at IoU 0.5 and 0.75: one line per class up to :data:`CLASSES_PER_CHART`
    classes, else one row per class (worst AP first) with the precision as colour."""
    plt = require_matplotlib()
    curves = report.curves[iou_type]
    names = {row["category_id"]: row["name"] for row in report.data["per_class"][iou_type]}
    categories = sorted(names, key=lambda c: names[c])
    if len(categories) <= CLASSES_PER_CHART:
        figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, iou in zip(axes, sorted(curves)):
            for category in categories:
                recall, precision = curves[iou][category]
                ax.plot(recall, precision, label=names[category])
            ax.set_title(f"IoU {iou:g}")
            ax.set_xlabel("recall")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("precision")
        axes[-1].legend(fontsize=8, loc="lower left")
    else:  # one row per class, worst AP at the top: precision (colour) over recall, at each IoU
        order = [row["category_id"] for row in report.data["per_class"][iou_type]]
        recall_points = np.linspace(0, 1, 101)
        figure, axes = plt.subplots(1, 2, figsize=(12, min(2 + 0.16 * len(order), 30)), sharey=True)
        for ax, iou in zip(axes, sorted(curves)):
            grid = np.full((len(order), len(recall_points)), np.nan)
            for row, category in enumerate(order):
                recall, precision = curves[iou][category]
                grid[row, np.searchsorted(recall_points, recall - 1e-9)] = precision
            shown = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest",
                              extent=(0, 1, len(order) - 0.5, -0.5))
            ax.set_title(f"IoU {iou:g}: precision (blank: recall not reached)")
            ax.set_xlabel("recall")
        axes[0].set_yticks(range(len(order)), [names[c] for c in order], fontsize=6 if len(order) > 40 else 8)
        figure.colorbar(shown, ax=axes, fraction=0.02)
    _save(figure, path)


def confusion_picture(data: dict[str, Any], path: str) -> None:
    """The confusion matrix at IoU 0.5: counts, each row scaled to its largest entry for the colours."""
    plt = require_matplotlib()
    confusion = data["confusion"]
    counts = np.asarray(confusion["counts"], dtype=float)
    size = len(counts)
    scaled = counts / np.maximum(counts.max(axis=1, keepdims=True), 1)
    side = min(max(4.0, 0.45 * size + 2), 18)
    figure, ax = plt.subplots(figsize=(side, side * 0.9))
    ax.imshow(scaled, cmap="Blues", vmin=0, vmax=1)
    if size <= 25:
        for i in range(size):
            for j in range(size):
                if counts[i, j]:
                    ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if scaled[i, j] > 0.6 else "black")
    font = 8 if size <= 40 else 5
    ax.set_xticks(range(size), confusion["columns"], rotation=90, fontsize=font)
    ax.set_yticks(range(size), confusion["rows"], fontsize=font)
    ax.set_xlabel("detected as")
    ax.set_ylabel("object")
    ax.set_title(f"Confusion at IoU 0.5, score >= {confusion['score_thresh']:g}")
    _save(figure, path)


def proposals_chart(data: dict[str, Any], path: str) -> None:
    """The RPN's recall by object size (top-k proposals, IoU 0.5 and 0.7) next to the anchors' coverage."""
    plt = require_matplotlib()
    proposals = data["proposals"]
    sizes = ["all", "small", "medium", "large"]
    series = [(key, proposals["recall"][key]) for key in proposals["recall"]]
    anchors = (proposals.get("anchors") or {})
    if anchors.get("current"):
        series.append(("anchors cover at IoU 0.7", anchors["current"]["coverage"]))
    if anchors.get("suggested"):
        series.append(("suggested anchors cover", anchors["suggested"]["coverage"]))
    figure, ax = plt.subplots(figsize=(11, 3.8))
    width = 0.8 / len(series)
    for k, (label, values) in enumerate(series):
        heights = [values.get(size) if values.get(size) == values.get(size) else 0 for size in sizes]
        ax.bar(np.arange(len(sizes)) + (k - (len(series) - 1) / 2) * width, [h or 0 for h in heights], width,
               label=label.replace("top", "top ").replace("@", ", IoU "))
    ax.set_xticks(range(len(sizes)), [f"{s} ({proposals['objects'][s]})" for s in sizes])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of objects")
    ax.set_title("Proposals: the RPN's recall, and the anchors' coverage (resized frame)")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    _save(figure, path)


def scores_chart(data: dict[str, Any], path: str) -> None:
    """Histograms of the true and false positives' scores (the IoU type of the findings)."""
    plt = require_matplotlib()
    scores = data["scores"][data["primary"]]
    bins = np.asarray(scores["bins"])
    centers, width = (bins[:-1] + bins[1:]) / 2, np.diff(bins)
    figure, ax = plt.subplots(figsize=(7, 3))
    ax.bar(centers, scores["fp"], width * 0.9, label="false positives", color="#d62728", alpha=0.6)
    ax.bar(centers, scores["tp"], width * 0.9, label="true positives", color=ERROR_COLORS["tp"], alpha=0.6)
    ax.axvline(data["meta"]["score_thresh"], color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("score")
    ax.set_ylabel("detections")
    ax.set_title("Scores of true and false positives (IoU 0.5)")
    ax.legend(fontsize=8)
    _save(figure, path)
