"""eval.py --report: per-class AP as COCOeval computes it, TIDE's error types on cases known by hand and against the
tidecv package, the confusion matrix against faster-coco-eval's, the RPN's recall with a stub RPN that proposes the
ground truth, anchor suggestions, and the tool's page and one-line errors."""
import copy
import json
import sys

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn

from dataset import coco2017_paths, load_coco_dict
from maskrcnn.analysis.confusion import confusion_matrix
from maskrcnn.analysis.error_types import ERROR_TYPES, analyse_errors
from maskrcnn.analysis.per_class import CLASS_FIGURES, per_class_figures
from maskrcnn.analysis.proposal_recall import proposal_recall, suggest_anchors
from maskrcnn.engine.coco_evaluation import run_cocoeval
from maskrcnn.faster_rcnn import default_anchor_generator

from tests.tool_runner import TOOLS, refused, tool

sys.path.insert(0, TOOLS)
from benchmarks.eval import synthetic_ground_truth, synthetic_results  # noqa: E402


@pytest.fixture(scope="module")
def synthetic():
    ground_truth = synthetic_ground_truth(40, seed=5)
    return ground_truth, synthetic_results(ground_truth, seed=5)


def quiet_coco(dataset: dict) -> COCO:
    return load_coco_dict(copy.deepcopy(dataset))


def test_per_class_figures_are_cocoeval_summaries_of_that_class_alone(synthetic):
    ground_truth, results = synthetic
    coco = quiet_coco(ground_truth)
    evaluator = run_cocoeval(coco, results, "segm")
    rows = {row["category_id"]: row for row in per_class_figures(coco, evaluator, results, 0.5, [False] * len(results))}
    for category_id in sorted(rows)[:4]:
        alone = COCOeval(quiet_coco(ground_truth), coco.loadRes([dict(r) for r in results]), "segm")
        alone.params.catIds = [category_id]
        alone.evaluate()
        alone.accumulate()
        alone.summarize()
        for (name, _, _), stat in zip(CLASS_FIGURES, alone.stats[:6]):
            expected = float("nan") if stat == -1 else stat
            assert rows[category_id][name] == pytest.approx(expected, abs=1e-12, nan_ok=True), (category_id, name)
        assert rows[category_id]["objects"] == len(coco.getAnnIds(catIds=[category_id], iscrowd=False))


P, Q, R = [10, 10, 50, 50], [100, 10, 50, 50], [10, 100, 50, 50]
#: R moved down by 27 px: IoU 23 * 50 / (2 * 2500 - 23 * 50) = 0.30 with R.
R_SHIFTED = [10, 127, 50, 50]


def detection(category_id, box, score):
    return {"image_id": 1, "category_id": category_id, "bbox": box, "score": score}


def one_image(objects) -> COCO:
    annotations = [{"id": i + 1, "image_id": 1, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": 0,
                    "segmentation": [[b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3], b[0], b[1] + b[3]]]}
                   for i, (c, b) in enumerate(objects)]
    return load_coco_dict({"images": [{"id": 1, "width": 300, "height": 300}], "annotations": annotations,
                           "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]})


# COCOeval's AP is the mean of the interpolated precision at the 101 recall points 0, 0.01, ..., 1. The error in
# each case sits between two true positives, so it lowers the precision of the recall points after it.
CASES = {
    # P found (0.9), a second box on P (0.8), Q found (0.7). Base: precision 1 up to recall 0.5 (51 points), then
    # 2/3 (50 points); without the duplicate, 1 everywhere.
    "dupe": ([(1, P), (1, Q)], [detection(1, P, .9), detection(1, [11, 10, 50, 50], .8), detection(1, Q, .7)],
             1 - (51 + 50 * 2 / 3) / 101),
    # the same with a box on the background instead of a duplicate
    "bkg": ([(1, P), (1, Q)], [detection(1, P, .9), detection(1, [200, 200, 30, 30], .8), detection(1, Q, .7)],
            1 - (51 + 50 * 2 / 3) / 101),
    # three objects; R's box shifted to IoU 0.3 between P's and Q's true positives: base precision 1 up to recall
    # 1/3 (34 points), 2/3 up to 2/3 (33 points), nothing after; fixed, R is found: 1 everywhere
    "loc": ([(1, P), (1, Q), (1, R)], [detection(1, P, .9), detection(1, R_SHIFTED, .8), detection(1, Q, .7)],
            1 - (34 + 33 * 2 / 3) / 101),
    # R detected in place as class 2 (which has no object: not counted by COCOeval): base recall 2/3 at precision 1
    # (67 points); fixed, R is found too
    "cls": ([(1, P), (1, Q), (1, R)], [detection(1, P, .9), detection(2, R, .8), detection(1, Q, .7)],
            1 - 67 / 101),
    # R never detected: recall 2/3 (67 points); without R in the ground truth, recall 1
    "miss": ([(1, P), (1, Q), (1, R)], [detection(1, P, .9), detection(1, Q, .7)], 1 - 67 / 101),
    # a class-1 box at IoU 0.3 with a class-2 object R (found by its own detection, after): class 1 as in "dupe"
    # (its AP over classes 1 and 2, class 2's AP being 1)
    "both": ([(1, P), (1, Q), (2, R)],
             [detection(1, P, .9), detection(1, R_SHIFTED, .8), detection(1, Q, .7), detection(2, R, .6)],
             (1 - (51 + 50 * 2 / 3) / 101) / 2),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_each_error_type_alone_on_a_case_known_by_hand(kind):
    objects, detections, expected = CASES[kind]
    breakdown = analyse_errors(one_image(objects), detections, "bbox")
    counts = breakdown.counts()
    assert counts == {name: int(name == kind) for name in ERROR_TYPES}
    for name in ERROR_TYPES:
        assert breakdown.delta_ap[name] == pytest.approx(expected if name == kind else 0.0, abs=1e-9), name
    assert breakdown.ap50 + breakdown.delta_ap[kind] == pytest.approx(1.0, abs=1e-9)


def test_error_types_agree_with_the_tidecv_package(synthetic, tmp_path):
    tidecv = pytest.importorskip("tidecv")
    ground_truth, results = synthetic
    (tmp_path / "gt.json").write_text(json.dumps(ground_truth))
    (tmp_path / "results.json").write_text(json.dumps(results))
    names = {"Cls": "cls", "Loc": "loc", "Both": "both", "Dupe": "dupe", "Bkg": "bkg", "Miss": "miss"}
    for iou_type, mode in (("bbox", "bbox"), ("segm", "mask")):
        ours = analyse_errors(quiet_coco(ground_truth), copy.deepcopy(results), iou_type)
        tide = tidecv.TIDE()
        tide.evaluate(tidecv.datasets.COCO(str(tmp_path / "gt.json")),
                      tidecv.datasets.COCOResult(str(tmp_path / "results.json")), mode=mode, name="run")
        theirs = tide.get_main_errors()["run"]
        assert 0.05 < ours.ap50 < 0.95
        assert ours.ap50 == pytest.approx(tide.runs["run"].ap / 100, abs=2e-3)
        coco = quiet_coco(ground_truth)

        def compare(ours_value: float, theirs_value: float, removed: list[int], what) -> None:
            """Equal, but where taking ``removed`` objects out leaves a class with none: COCOeval then leaves the
            class out of its mean, TIDE counts it at AP 0 where it has detections, so ours is at least TIDE's."""
            emptied = [c for c in coco.getCatIds() if coco.getAnnIds(catIds=[c], iscrowd=False)
                       and set(coco.getAnnIds(catIds=[c], iscrowd=False)) <= set(removed)]
            if emptied:
                assert ours_value >= theirs_value - 2e-3, what
            else:
                assert ours_value == pytest.approx(theirs_value, abs=2e-3), what

        for short, kind in names.items():
            compare(ours.delta_ap[kind], theirs[short] / 100, ours.missed if kind == "miss" else [], (iou_type, kind))
        special = tide.get_special_errors()["run"]
        compare(ours.delta_ap["false_positives"], special["FalsePos"] / 100, [], (iou_type, "FalsePos"))
        compare(ours.delta_ap["false_negatives"], special["FalseNeg"] / 100, ours.unmatched, (iou_type, "FalseNeg"))


def test_confusion_matrix_equals_faster_coco_eval(synthetic):
    faster = pytest.importorskip("faster_coco_eval")
    from faster_coco_eval.extra import PreviewResults
    ground_truth, results = synthetic
    for iou_type in ("bbox", "segm"):
        ours = confusion_matrix(quiet_coco(ground_truth), copy.deepcopy(results), iou_type, score_thresh=0.3)
        gt = faster.COCO(copy.deepcopy(ground_truth))
        theirs = PreviewResults(gt, gt.loadRes(copy.deepcopy(results)), iou_type, min_score=0.3, iou_tresh=0.5,
                                useCats=False).compute_confusion_matrix()
        k = len(ours.category_ids)
        assert ours.counts[:k, k].sum() > 0 and ours.counts[k, :k].sum() > 0 and ours.confusions()
        np.testing.assert_array_equal(ours.counts[:k, :k], theirs[:, :k])  # matched: object class x detected class
        np.testing.assert_array_equal(ours.counts[k, :k], theirs[:, k])    # detections matching no object
        np.testing.assert_array_equal(ours.counts[:k, k], theirs[:, k + 1])  # objects no detection matched


class ProposeTheGroundTruth(nn.Module):
    """A stub RPN: each image's ground-truth boxes (taken to the resized frame), moved by ``shift`` pixels."""

    def __init__(self, batches, shift: float = 0.0) -> None:
        super().__init__()
        self.pending = [(t["boxes"], image.shape[-2:]) for images, targets in batches
                        for image, t in zip(images, targets)]
        self.shift = shift

    def post_nms_top_n(self) -> int:
        return 1000

    def forward(self, images, features, targets=None):
        proposals = []
        for height, width in images.image_sizes:
            boxes, (original_h, original_w) = self.pending.pop(0)
            scale = torch.tensor([width / original_w, height / original_h] * 2)
            proposals.append(boxes * scale + self.shift)
        return proposals, {}


def shapes_batches(root, count=4):
    from dataset import CocoInstanceDataset
    from transforms import eval_transforms
    image_dir, ann = coco2017_paths(root, "val")
    dataset = CocoInstanceDataset(image_dir, ann, eval_transforms())
    return [([dataset[i][0]], [dataset[i][1]]) for i in range(min(count, len(dataset)))]


def test_rpn_recall_is_one_when_the_rpn_proposes_the_ground_truth(tiny_shapes):
    from maskrcnn import fasterrcnn_mobilenet_v3_large_320_fpn
    batches = shapes_batches(tiny_shapes)
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=5).eval()
    model.rpn = ProposeTheGroundTruth(batches)
    recall, boxes, sizes = proposal_recall(model, batches, torch.device("cpu"))
    assert recall.count() == sum(len(t[0]["boxes"]) for _, t in batches) > 0
    for top in recall.best_iou:
        for iou in (0.5, 0.7):
            assert recall.recall(top, iou) == 1.0
    assert [tuple(b.shape) for b in boxes] == [tuple(t[0]["boxes"].shape) for _, t in batches]
    model.rpn = ProposeTheGroundTruth(batches, shift=12.0)  # the control: boxes moved off their objects
    moved, _, _ = proposal_recall(model, batches, torch.device("cpu"))
    assert moved.recall(1000, 0.7) < 1.0


def test_anchor_suggestion_fits_objects_smaller_than_the_smallest_anchor():
    generator = torch.Generator().manual_seed(0)
    boxes = []
    for _ in range(20):  # 10-20 px objects in 320 x 320 images, kept at that size (min_size 320)
        xy = torch.rand(5, 2, generator=generator) * 280
        wh = 10 + torch.rand(5, 2, generator=generator) * 10
        boxes.append(torch.cat([xy, xy + wh], dim=1))
    suggestion = suggest_anchors(boxes, [(320, 320)] * len(boxes), 320, 320, default_anchor_generator())
    assert suggestion["current"]["coverage"]["all"] < 0.05  # 32 px anchors on 10-20 px objects
    assert suggestion["suggested"]["sizes"][0] <= 16
    assert suggestion["suggested"]["coverage"]["all"] > 0.4


def write_results(path, ground_truth, drop_masks=False):
    results = synthetic_results(ground_truth, seed=5)
    if drop_masks:
        results = [{k: v for k, v in r.items() if k != "segmentation"} for r in results]
    path.write_text(json.dumps(results))
    return path


def first_images(ground_truth: dict, count: int) -> dict:
    images = ground_truth["images"][:count]
    kept = {image["id"] for image in images}
    return {**ground_truth, "images": images,
            "annotations": [a for a in ground_truth["annotations"] if a["image_id"] in kept]}


def test_report_from_a_results_file_and_bad_results(synthetic, tmp_path):
    ground_truth = first_images(synthetic[0], 20)
    ann = tmp_path / "gt.json"
    ann.write_text(json.dumps(ground_truth))
    results = write_results(tmp_path / "results.json", ground_truth)
    out = tmp_path / "report"
    done = tool("eval.py", "--results", results, "--ann", ann, "--report", out, "--out", tmp_path / "eval")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert set(report["summary"]) == {"bbox", "segm"} and report["findings"]
    assert report["findings"] == sorted(report["findings"], key=lambda f: -f["delta_ap"])
    assert {"per_class", "errors", "confusion", "worst_images", "scores"} <= report.keys()
    assert report["proposals"] is None and any("proposals section needs a model" in n for n in report["notes"])
    page = (out / "index.html").read_text()
    for name in ("errors", "confusion", "pr_bbox", "pr_segm", "scores"):
        assert (out / f"{name}.png").stat().st_size > 1000 and f"src='{name}.png'" in page
    assert "were not found" in page  # no --images: the worst images by name only
    assert f"1. {report['findings'][0]['text']}" in done.stdout

    few = first_images(ground_truth, 4)  # the other cases on a few images
    ann = tmp_path / "few.json"
    ann.write_text(json.dumps(few))
    boxes_only = write_results(tmp_path / "boxes.json", few, drop_masks=True)
    done = tool("eval.py", "--results", boxes_only, "--ann", ann, "--report", tmp_path / "boxes", "--out", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "boxes only" in (tmp_path / "boxes" / "index.html").read_text()
    (tmp_path / "empty.json").write_text("[]")
    done = tool("eval.py", "--results", tmp_path / "empty.json", "--ann", ann, "--report", tmp_path / "empty",
                "--out", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "holds no detections" in done.stdout and "every object is missed" in \
        (tmp_path / "empty" / "index.html").read_text()
    other = json.loads(boxes_only.read_text())
    other[0]["category_id"] = 999
    (tmp_path / "other.json").write_text(json.dumps(other))
    bad = refused("eval.py", "--results", tmp_path / "other.json", "--ann", ann, "--report", tmp_path / "other")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "category ids not in" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
