"""faster-coco-eval as eval.py's backend: the same 12 figures and per-class APs as pycocotools' COCOeval on results
with every kind of match and error (the synthetic set of ``benchmark.py eval``), and through the tool, the same
printed table; without the package, one line."""
import json
import sys

import pytest

from dataset import load_coco_dict
from maskrcnn.engine.coco_evaluation import STAT_NAMES, evaluate_results

from tests.tool_runner import TOOLS, in_process

pytest.importorskip("faster_coco_eval")  # the fast-eval extra; .ci/run installs it
sys.path.insert(0, TOOLS)
from benchmarks.eval import synthetic_ground_truth, synthetic_results  # noqa: E402


@pytest.fixture(scope="module")
def synthetic():
    ground_truth = synthetic_ground_truth(60, seed=3)
    return ground_truth, synthetic_results(ground_truth, seed=3)


def test_both_backends_give_the_same_figures_and_per_class_ap(synthetic):
    ground_truth, results = synthetic
    coco = load_coco_dict(ground_truth)
    ours, fast = (evaluate_results(coco, results, ("bbox", "segm"), per_class=True, backend=backend)[0]
                  for backend in ("pycocotools", "faster-coco-eval"))
    for iou_type in ("bbox", "segm"):
        assert 0.05 < ours[iou_type]["AP"] < 0.95  # neither trivial case
        for name in STAT_NAMES:
            assert fast[iou_type][name] == pytest.approx(ours[iou_type][name], abs=1e-12), (iou_type, name)
        assert fast[iou_type]["per_class"].keys() == ours[iou_type]["per_class"].keys()
        for name, ap in ours[iou_type]["per_class"].items():
            assert fast[iou_type]["per_class"][name] == pytest.approx(ap, abs=1e-12, nan_ok=True), name


def test_the_tool_prints_the_same_table_with_either_backend(tmp_path, monkeypatch):
    ground_truth = synthetic_ground_truth(60, seed=3)  # afresh: COCOeval turns polygons into RLEs in place
    results = synthetic_results(ground_truth, seed=3)
    (tmp_path / "gt.json").write_text(json.dumps(ground_truth))
    (tmp_path / "dets.json").write_text(json.dumps(results))
    tables = {}
    for backend in ("pycocotools", "faster-coco-eval"):
        done = in_process("eval.py", "--results", tmp_path / "dets.json", "--ann", tmp_path / "gt.json", "--backend",
                          backend, "--out", tmp_path / backend)
        assert done.returncode == 0, done.stderr
        tables[backend] = [line for line in done.stdout.splitlines() if "Average" in line]
    # faster-coco-eval prints a few more lines (AR at IoU 0.5 and 0.75); COCOeval's 12 per IoU type are all there
    assert len(tables["pycocotools"]) == 24
    assert [line for line in tables["faster-coco-eval"] if line in tables["pycocotools"]] == tables["pycocotools"]
    monkeypatch.setitem(sys.modules, "faster_coco_eval", None)  # as without the extra
    done = in_process("eval.py", "--results", tmp_path / "dets.json", "--ann", tmp_path / "gt.json", "--backend",
                      "faster-coco-eval", "--out", tmp_path / "x")
    assert done.returncode == 2 and done.stderr.strip() == \
        'error: --backend faster-coco-eval needs the package: pip install -e ".[fast-eval]"'
