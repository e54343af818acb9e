"""The built-in synthetic dataset: real COCO format, deterministic, read back by the COCO loader, scored by COCOeval."""
import contextlib
import filecmp
import io
import os

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dataset import CocoInstanceDataset, coco2017_paths, generate_shapes_dataset

from tests.tool_runner import refused, tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory):
    return generate_shapes_dataset(str(tmp_path_factory.mktemp("shapes") / "shapes"), num_train=40, num_val=12,
                                   seed=3)


def quiet(function, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)


def test_loads_with_plain_pycocotools_and_holds_every_kind_of_annotation(shapes_root):
    coco = quiet(COCO, coco2017_paths(shapes_root, "train")[1])
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["square", "circle", "triangle", "star"]
    assert len(coco.getImgIds()) == 40
    anns = coco.dataset["annotations"]
    kinds = {("crowd" if a["iscrowd"] else "polygon" if isinstance(a["segmentation"], list)
              else "rle") for a in anns}
    assert kinds == {"crowd", "polygon", "rle"}
    assert all(isinstance(a["segmentation"]["counts"], list) for a in anns if a["iscrowd"])
    for ann in anns:  # the recorded box and area are those of the mask pycocotools decodes
        mask = coco.annToMask(ann)
        ys, xs = np.nonzero(mask)
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert ann["area"] == mask.sum()


def test_same_seed_same_bytes(shapes_root, tmp_path):
    again = generate_shapes_dataset(str(tmp_path / "again"), num_train=40, num_val=12, seed=3)
    for split in ("train", "val"):
        image_dir, ann_file = coco2017_paths(shapes_root, split)
        other_dir, other_ann = coco2017_paths(again, split)
        assert filecmp.cmp(ann_file, other_ann, shallow=False)
        names = sorted(os.listdir(image_dir))
        assert names == sorted(os.listdir(other_dir))
        match, mismatch, errors = filecmp.cmpfiles(image_dir, other_dir, names, shallow=False)
        assert not mismatch and not errors
    different = generate_shapes_dataset(str(tmp_path / "different"), num_train=2, num_val=1, seed=4)
    assert not filecmp.cmp(coco2017_paths(shapes_root, "train")[1], coco2017_paths(different, "train")[1],
                           shallow=False)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_ground_truth_as_results_scores_ap_one(shapes_root, iou_type):
    gt = quiet(COCO, coco2017_paths(shapes_root, "val")[1])
    results = []
    for ann in gt.dataset["annotations"]:
        if ann["iscrowd"]:
            continue
        rle = gt.annToRLE(ann)
        results.append({"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": ann["bbox"],
                        "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()
                                         if isinstance(rle["counts"], bytes) else rle["counts"]},
                        "score": 1.0})
    dt = quiet(gt.loadRes, results)
    evaluator = COCOeval(gt, dt, iou_type)
    quiet(evaluator.evaluate)
    quiet(evaluator.accumulate)
    quiet(evaluator.summarize)
    assert evaluator.stats[0] == pytest.approx(1.0)
    assert evaluator.stats[1] == pytest.approx(1.0)


def test_read_back_through_the_coco_dataset(shapes_root):
    dataset = CocoInstanceDataset(*coco2017_paths(shapes_root, "train"), filter_empty=True)
    assert dataset.num_classes == 5
    image, target = dataset[0]
    assert image.shape[0] == 3 and 128 <= image.shape[1] <= 192
    assert len(target["boxes"]) >= 1 and set(target["labels"].tolist()) <= {1, 2, 3, 4}


def test_data_preview_tool_writes_a_grid(shapes_root, tmp_path):
    out = tmp_path / "preview.png"
    done = tool("visualize_data.py", "--data-root", shapes_root, "--num", "5", "--out", out)
    assert done.returncode == 0, done.stderr
    import cv2
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[0] > 200 and picture.std() > 10
    assert "5 samples" in done.stdout
    missing = refused("visualize_data.py", "--data", "coco2017", "--data-root", tmp_path / "nowhere")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ") and "cocodataset.org" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stderr.count("\n") == 1
