"""A user's own COCO-format data through the tools: any layout on disk, any category ids, with or without a val split.

The dataset is the tiny built-in set with its category ids rewritten to 1, 3, 18, 62 (a CVAT export's kind of ids):
labels inside the model are 1..4, while checkpoints, predictions and COCO results speak the file's ids and names.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from dataset import CocoInstanceDataset, coco2017_paths
from dataset.categories import Categories
from dataset.coco_names import COCO_CATEGORY_NAMES

from tests.tool_runner import TINY_MODEL, refused, tool

OWN_IDS = {1: 1, 2: 3, 3: 18, 4: 62}  # built-in id -> the file's id


def test_category_ids_map_to_contiguous_labels_except_coco_and_1_to_k():
    own = Categories.from_coco_categories([{"id": 62, "name": "chair"}, {"id": 3, "name": "car"},
                                           {"id": 18, "name": "dog"}, {"id": 1, "name": "person"}])
    assert own.ids == (0, 1, 3, 18, 62) and own.names == ("__background__", "person", "car", "dog", "chair")
    assert own.label_of(18) == 3 and own.category_id(3) == 18 and own.num_classes == 5
    contiguous = Categories.from_coco_categories([{"id": 2, "name": "b"}, {"id": 1, "name": "a"}])
    assert contiguous.ids == (0, 1, 2) and contiguous.names == ("__background__", "a", "b")
    coco = Categories.from_coco_categories([{"id": i, "name": n} for i, n in enumerate(COCO_CATEGORY_NAMES)
                                            if i and n != "N/A"])
    assert coco == Categories.coco() and coco.num_classes == 91 and coco.num_categories == 80
    zero_based = Categories.from_coco_categories([{"id": 0, "name": "a"}, {"id": 1, "name": "b"}])
    assert zero_based.ids == (0, 0, 1) and zero_based.label_of(0) == 1  # id 0 is a category, not the background
    assert Categories.for_model(91) == Categories.coco()


@pytest.fixture(scope="module")
def own_folder(tiny_shapes, tmp_path_factory):
    """The tiny set in a folder of the user's own layout: annotations/instances_{train,val}.json, train/, val/."""
    root = tmp_path_factory.mktemp("own")
    os.makedirs(root / "annotations")
    for split in ("train", "val"):
        image_dir, ann_file = coco2017_paths(tiny_shapes, split)
        shutil.copytree(image_dir, root / split)
        with open(ann_file) as f:
            data = json.load(f)
        for category in data["categories"]:
            category["id"] = OWN_IDS[category["id"]]
        for annotation in data["annotations"]:
            annotation["category_id"] = OWN_IDS[annotation["category_id"]]
        with open(root / "annotations" / f"instances_{split}.json", "w") as f:
            json.dump(data, f)
    return root


@pytest.fixture(scope="module")
def own_run(own_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("own_run")
    done = tool("train.py", "--data", own_folder, "--epochs", 1, "--output", out, *TINY_MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def test_any_category_ids_train_predict_and_evaluate_with_the_files_own_ids(own_folder, own_run, tmp_path):
    out, done = own_run
    assert "recipe: from scratch" in done.stdout and "(4 classes)" in done.stdout
    checkpoint = torch.load(out / "checkpoints" / "last.pth", weights_only=True)
    assert checkpoint["categories"]["ids"] == [0, 1, 3, 18, 62]
    assert checkpoint["model"]["roi_heads.box_predictor.cls_score.weight"].shape[0] == 5  # labels 0..4, not 0..62
    dataset = CocoInstanceDataset(own_folder / "train", own_folder / "annotations" / "instances_train.json")
    names = dict(zip(dataset.categories.ids, dataset.class_names))

    image = sorted((own_folder / "val").iterdir())[0]
    predicted = tool("predict.py", image, "--weights", out / "checkpoints" / "last.pth", "--score-thresh", 0,
                     "--out", tmp_path / "predictions")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    instances = json.loads((tmp_path / "predictions" / f"{image.stem}.json").read_text())["instances"]
    assert instances and all(i["label"] in (1, 3, 18, 62) and i["name"] == names[i["label"]] for i in instances)

    evaluated = tool("eval.py", "--weights", out / "checkpoints" / "last.pth", "--data", own_folder, "--workers", 0,
                     "--out", tmp_path / "eval")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results and {r["category_id"] for r in results} <= {1, 3, 18, 62}


def test_explicit_files_without_a_val_split_train_without_evaluation(own_folder, tmp_path):
    done = tool("train.py", "--train-ann", own_folder / "annotations" / "instances_train.json", "--train-images",
                own_folder / "train", "--epochs", 1, "--output", tmp_path, *TINY_MODEL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("no validation split") == 1 and "not evaluated" in done.stdout
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_001.pth", "last.pth"]


def test_missing_or_mismatched_data_is_named(own_folder, own_run, tiny_shapes, tmp_path):
    half = refused("train.py", "--train-ann", own_folder / "annotations" / "instances_train.json", "--output", tmp_path)
    assert half.returncode == 2 and "--train-ann and --train-images go together" in half.stderr
    nowhere = refused("train.py", "--data", tmp_path / "nowhere", "--output", tmp_path)
    assert nowhere.returncode == 2 and "nowhere" in nowhere.stderr and nowhere.stderr.count("\n") == 1
    empty = tmp_path / "empty"
    os.makedirs(empty / "annotations")
    no_train = refused("train.py", "--data", empty, "--output", tmp_path)
    assert no_train.returncode == 2 and "no train split" in no_train.stderr
    out, _ = own_run
    other = refused("eval.py", "--weights", out / "checkpoints" / "last.pth", "--data-root", tiny_shapes)
    error = other.stderr.strip().splitlines()[-1]  # after the dataset's log line
    assert other.returncode == 2 and error.startswith("error: ") and "predicts other categories" in error
