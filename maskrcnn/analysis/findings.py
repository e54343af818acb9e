"""The report's findings: a few sentences, each a cause of lost AP, ranked by the AP50 that fixing it would recover.

Each finding comes from the figures of the report's data (``report.json``) and names the section it rests on
(``figure``: the page's anchor). The rules, in words:

- one finding per TIDE error type whose dAP is at least :data:`MIN_DELTA` (the IoU type of the findings: masks
  where there are masks), with the detail that explains it: misses by size (with a model: the RPN's recall of the
  size missed most); the most frequent class confusions; box vs mask for placement;
- the anchors, with a model, when they cover under :data:`LOW_COVERAGE` of the objects (or of a size) at IoU >= 0.7
  and other sizes and ratios would cover more: those, and the coverage they give; ranked by the dAP of missed and
  badly placed objects, the errors that anchors which do not fit cause (and of class errors too where they cover
  almost nothing: the box head then classifies features pooled away from the objects);
- "the scores do not rank": the true positives' scores are low (median under the score threshold), so that a perfect
  ranking (TIDE's false-positive oracle) would recover its dAP: an undertrained classifier;
- what the checkpoint says of its training, when it trained fewer epochs than its recipe, or at a learning rate
  far from the recipe's (ranked with the largest dAP, since it bears on all of them);
- no detections at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .confusion import ConfusionMatrix
from .error_types import SIZE_NAMES

MIN_DELTA = 0.01
#: an anchor setting covering fewer objects of a size than this at IoU >= 0.7 is called the bottleneck
LOW_COVERAGE = 0.5
#: ... and below this, every RoI the heads see starts from a proposal far from its object
NO_COVERAGE = 0.1


@dataclass(frozen=True)
class Advice:
    """How a finding names a setting to change. The library speaks of the detector's and training's arguments; a
    tool passes its own options (``tools/eval.py``: ``train.py --anchor-sizes ...``). ``anchors`` takes ``{sizes}``
    and ``{ratios}``, ``epochs`` takes ``{epochs}``."""
    anchors: str = "anchor sizes {sizes} (one per FPN level) with aspect ratios {ratios}"
    min_size: str = "min_size (the transform's short side)"
    keep_empty: str = "images without objects kept in the training set"
    epochs: str = "{epochs} epochs"


def _percent(value: Optional[float]) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.0f} %"


def _sizes(values: list) -> str:
    """Numbers as a command line takes them: ``32 64 128``, ``0.5 1 2``."""
    return " ".join(f"{v:g}" for v in values)


def _miss_detail(data: dict[str, Any], missed_by_size: dict[str, int]) -> str:
    detail = f" ({', '.join(f'{missed_by_size[s]} {s}' for s in SIZE_NAMES if missed_by_size.get(s))})"
    proposals = data.get("proposals")
    if not proposals or not proposals.get("recall"):
        return detail + "."
    worst = max(SIZE_NAMES, key=lambda size: missed_by_size.get(size, 0))
    top, found = _best_recall(proposals, worst)
    return detail + (f"; the RPN finds {_percent(found)} of the {worst} objects at IoU 0.5 in its top {top} "
                     f"proposals.")


def _best_recall(proposals: dict[str, Any], size: str) -> tuple[str, Optional[float]]:
    """The recall at IoU 0.5 of the most proposals measured, for objects of ``size``: ``(k, recall)``."""
    recall = proposals["recall"]
    key = max((key for key in recall if key.endswith("@0.5")), key=lambda key: int(key[3:-4]))
    return key[3:-4], recall[key].get(size)


def _anchor_finding(data: dict[str, Any], delta: dict[str, float], advice: Advice) -> Optional[tuple[str, float]]:
    """The anchors as the bottleneck: they cover under :data:`LOW_COVERAGE` of the objects (of all, or of a size
    with objects) at IoU >= 0.7 and the suggested ones cover more. Its weight is the dAP of the errors anchors that do
    not fit cause: missed and badly placed objects; and where they cover under :data:`NO_COVERAGE`, the class errors
    too (``cls``, ``both``), as the box head then classifies features pooled from boxes far from their objects."""
    proposals = data.get("proposals") or {}
    anchors = proposals.get("anchors") or {}
    current, suggested = anchors.get("current"), anchors.get("suggested")
    if not current or not suggested:
        return None
    objects = proposals.get("objects", {})
    sizes = [size for size in ("all",) + SIZE_NAMES if objects.get(size)]
    poor = [size for size in sizes if current["coverage"].get(size, 1.0) < LOW_COVERAGE
            and suggested["coverage"].get(size, 0.0) > current["coverage"][size]]
    if not poor:
        return None
    size = min(poor, key=lambda s: current["coverage"][s])
    top, found = _best_recall(proposals, size)
    tight = proposals["recall"].get(f"top{top}@0.7", {}).get(size)
    where = "the objects" if size == "all" else f"the {size} objects"
    text = (f"The anchors do not fit the objects: they cover {_percent(current['coverage'][size])} of {where} at "
            f"IoU >= 0.7 (the RPN finds {_percent(found)} of them at IoU 0.5, {_percent(tight)} at IoU 0.7, in its "
            f"top {top} proposals). The anchors "
            f"are {_sizes([s[0] for s in current['sizes']])} px with ratios {_sizes(current['aspect_ratios'])}; "
            f"try {advice.anchors.format(sizes=_sizes(suggested['sizes']), ratios=_sizes(suggested['aspect_ratios']))}"
            f", which cover {_percent(suggested['coverage'].get(size))} of "
            f"{where}" + ("" if size == "all" else f" and {_percent(suggested['coverage'].get('all'))} of all (now "
                                                   f"{_percent(current['coverage']['all'])})")
            + f"; or change {advice.min_size}, which scales the objects.")
    caused = ("miss", "loc") if current["coverage"][size] >= NO_COVERAGE else ("miss", "loc", "cls", "both")
    return text, sum(delta.get(kind, 0.0) for kind in caused)


def findings(data: dict[str, Any], confusion: Optional[ConfusionMatrix] = None, advice: Optional[Advice] = None
             ) -> list[dict[str, Any]]:
    """The ranked findings of a report's data: ``[{"text", "delta_ap", "figure"}]``, largest dAP first; ``advice``
    says how to change a setting (None: the detector's and training's own arguments)."""
    advice = advice or Advice()
    primary = data["primary"]
    errors = data["errors"][primary]
    delta, counts = errors["delta_ap"], errors["counts"]
    what = "masks" if primary == "segm" else "boxes"
    found: list[dict[str, Any]] = []

    def add(text: str, dap: float, figure: str) -> None:
        found.append({"text": text, "delta_ap": round(float(dap), 4), "figure": figure})

    total = sum(counts.values())
    if errors["ap50"] == 0 and counts.get("miss", 0) == total and total:
        add(f"The model finds nothing: no detection matches any of the {total} objects. If the training loss did "
            f"not fall (or became nan), lower the learning rate; otherwise train longer.", 1.0, "errors")
    if delta.get("miss", 0) >= MIN_DELTA:
        add(f"Missed objects cost {delta['miss']:.3f} AP50: {counts['miss']} objects no detection found"
            + _miss_detail(data, errors["missed_by_size"]), delta["miss"], "errors")
    anchors = _anchor_finding(data, delta, advice)
    if anchors is not None:
        add(anchors[0], anchors[1], "proposals")
    if delta.get("loc", 0) >= MIN_DELTA:
        text = (f"Badly placed {what} cost {delta['loc']:.3f} AP50: {counts['loc']} detections overlap their object "
                f"by IoU 0.1-0.5 only")
        box = data["errors"].get("bbox", {}).get("delta_ap", {}).get("loc", 0.0)
        if primary == "segm" and box < delta["loc"] / 2:
            text += (f"; the boxes are placed better (box dAP {box:.3f}): the masks are coarse, so train the mask "
                     f"head longer, or run at a larger {advice.min_size}")
        else:
            text += "; the box regression is still learning: train longer"
        add(text + ".", delta["loc"], "errors")
    if delta.get("cls", 0) >= MIN_DELTA:
        text = f"Class confusions cost {delta['cls']:.3f} AP50: {counts['cls']} detections of the wrong class"
        pairs = confusion.confusions()[:3] if confusion is not None else []
        if pairs:
            text += ("; most often " + "; ".join(f"{truth} detected as {guess} ({n} time{'s' if n > 1 else ''})"
                                           for truth, guess, n in pairs)
                     + f" (confusion matrix, score >= {confusion.score_thresh:g})")
        add(text + ".", delta["cls"], "confusion" if pairs else "errors")
    if delta.get("bkg", 0) >= MIN_DELTA:
        add(f"Detections on background cost {delta['bkg']:.3f} AP50: {counts['bkg']} detections overlap no object "
            f"(IoU <= 0.1); train on images without objects too ({advice.keep_empty}) or with more negatives.",
            delta["bkg"], "errors")
    if delta.get("dupe", 0) >= MIN_DELTA:
        add(f"Duplicate detections cost {delta['dupe']:.3f} AP50: {counts['dupe']}; a lower NMS threshold "
            f"(box_nms_thresh) removes more of them.", delta["dupe"], "errors")
    if delta.get("both", 0) >= MIN_DELTA:
        add(f"Detections of the wrong class in the wrong place cost {delta['both']:.3f} AP50 ({counts['both']}).",
            delta["both"], "errors")
    scores = data.get("scores", {}).get(primary)
    if scores and scores.get("tp_median") is not None and delta.get("false_positives", 0) >= MIN_DELTA \
            and scores["tp_median"] < data["meta"]["score_thresh"]:
        add(f"The scores do not rank: the median true positive scores {scores['tp_median']:.2f} (under "
            f"{data['meta']['score_thresh']:g}), and ranking every true positive above every false positive would "
            f"add {delta['false_positives']:.3f} AP50: an undertrained classifier, so train longer.",
            delta["false_positives"], "scores")
    training = data.get("training") or {}
    if training.get("epochs") and training.get("recipe_epochs") and training["epochs"] < training["recipe_epochs"]:
        largest = max((f["delta_ap"] for f in found), default=0.0)
        epochs = f"epoch{'s' if training['epochs'] > 1 else ''}"
        add(f"The checkpoint trained {training['epochs']} {epochs}; its recipe ({training['recipe']}) trains "
            f"{training['recipe_epochs']}: the errors above are those of an unfinished run; train the rest "
            f"({advice.epochs.format(epochs=training['recipe_epochs'])}).", largest, "training")
    lr, recipe_lr = training.get("lr"), training.get("recipe_lr")
    if lr and recipe_lr and not 1 / 3 <= lr / recipe_lr <= 3:
        largest = max((f["delta_ap"] for f in found), default=0.0)
        add(f"The learning rate was {lr:g}, {lr / recipe_lr:.3g} times the recipe's {recipe_lr:g} "
            f"({training['recipe']}).", largest, "training")
    return sorted(found, key=lambda f: -f["delta_ap"])
