"""tools/check_data.py: a clean dataset is ready to train; a broken one exits 1, naming each kind of problem."""
from __future__ import annotations

import json
import shutil

from dataset import coco2017_paths

from tests.tool_runner import tool


def test_a_clean_dataset_is_ready_with_a_table_of_objects_per_class(tiny_shapes):
    done = tool("check_data.py", "--data-root", tiny_shapes)
    assert done.returncode == 0, done.stdout + done.stderr
    train = json.loads(open(coco2017_paths(tiny_shapes, "train")[1]).read())
    squares = sum(1 for a in train["annotations"] if a["category_id"] == 1 and not a.get("iscrowd"))
    row = next(line for line in done.stdout.splitlines() if "square (1)" in line)
    assert int(row.split()[2]) == squares
    assert "summary: ready to train" in done.stdout


def test_each_kind_of_problem_is_named_and_training_would_fail(tiny_shapes, tmp_path):
    image_dir, ann_file = coco2017_paths(tiny_shapes, "val")
    shutil.copytree(image_dir, tmp_path / "images")
    data = json.loads(open(ann_file).read())
    first, second = data["images"][0], data["images"][1]
    data["images"].append(dict(first, file_name="missing.jpg"))  # a duplicate id, and a file that is not there
    second["width"] += 3  # not the size of the file
    annotation = next(a for a in data["annotations"] if a["image_id"] == first["id"] and not a.get("iscrowd"))
    annotation["bbox"][0] = -20.0  # reaches outside the image
    data["annotations"].append(dict(annotation, id=10_000, bbox=[1.0, 2.0, 2.0, 2.0],
                                    segmentation=[[1.0, 2.0, 3.0, 4.0]]))  # a 2-point polygon
    data["annotations"].append(dict(annotation, id=10_001, category_id=77))  # a category nobody declared
    data["categories"].append({"id": 9, "name": "ghost"})  # a category without objects
    data["images"].append({"id": 5000, "file_name": first["file_name"], "width": first["width"],
                           "height": first["height"]})  # an image without objects
    (tmp_path / "broken.json").write_text(json.dumps(data))
    done = tool("check_data.py", "--train-ann", tmp_path / "broken.json", "--train-images", tmp_path / "images")
    assert done.returncode == 1, done.stdout + done.stderr
    for said in (f"error: 1 duplicate image ids: id {first['id']} (2 images)", "error: 1 images missing",
                 "missing.jpg", "error: 1 images not the size the file says", "annotations name an image or "
                 "category the file does not list: annotation 10001", "warning: 1 boxes reach outside their image",
                 "warning: 1 objects with degenerate polygons", "ghost (id 9)", "images without objects",
                 "summary: training would fail"):
        assert said in done.stdout, said
