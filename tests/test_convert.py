"""tools/convert.py on LabelMe, YOLO and instance-mask folders the tests write: the converted masks equal what the
sources drew (IoU >= 0.98), under the sources' names, and each result trains through --train-ann/--train-images."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from dataset import CocoInstanceDataset, coco2017_paths

from tests.convert_fixtures import write_instance_masks, write_labelme, write_yolo
from tests.tool_runner import TINY_MODEL, refused, tool


def printed_image_folder(done) -> str:
    return next(line for line in done.stdout.splitlines() if line.startswith("images: "))[8:].split(" (")[0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / float((a | b).sum())


def converted_objects(ann_file, image_dir) -> dict:
    """``{file_name: [(name, mask)]}`` as the training dataset reads the converted file."""
    dataset = CocoInstanceDataset(image_dir, ann_file)
    objects = {}
    for index in range(len(dataset)):
        _, target = dataset[index]
        file_name = dataset.coco.imgs[dataset.ids[index]]["file_name"]
        objects[file_name] = [(dataset.class_names[label], mask.numpy().astype(bool))
                              for label, mask in zip(target["labels"].tolist(), target["masks"])]
    return objects


def assert_objects_match(got: dict, expected: dict, min_iou: float = 0.98) -> None:
    assert sorted(got) == sorted(expected)
    for file_name, objects in expected.items():
        assert [name for name, _ in got[file_name]] == [name for name, _ in objects], file_name
        for (name, mask), (_, truth) in zip(got[file_name], objects):
            assert iou(mask, truth.astype(bool)) >= min_iou, (file_name, name, iou(mask, truth.astype(bool)))


def test_labelme_polygons_rectangles_circles_masks_and_groups(tmp_path):
    expected = write_labelme(str(tmp_path / "src"))
    out = tmp_path / "coco" / "instances.json"
    done = tool("convert.py", "labelme", tmp_path / "src", out)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(1, "Cat"), (2, "cat"), (3, "dog")]
    assert {i["file_name"] for i in data["images"]} == {"a.jpg", "b.png"}
    group = next(a for a in data["annotations"] if a["category_id"] == 1)
    assert isinstance(group["segmentation"], list) and len(group["segmentation"]) == 2  # one object, two polygons
    mask_shape = next(a for a in data["annotations"] if isinstance(a["segmentation"], dict))
    assert set(mask_shape["segmentation"]) == {"size", "counts"}  # a mask is stored as RLE
    for annotation in data["annotations"]:  # bbox and area come from the mask
        image = next(i for i in data["images"] if i["id"] == annotation["image_id"])
        segmentation = annotation["segmentation"]
        rle = (mask_utils.merge(mask_utils.frPyObjects(segmentation, image["height"], image["width"]))
               if isinstance(segmentation, list) else dict(segmentation, counts=segmentation["counts"].encode()))
        assert annotation["area"] == float(mask_utils.area(rle))
        np.testing.assert_allclose(annotation["bbox"], mask_utils.toBbox(rle), atol=0.01)
    assert_objects_match(converted_objects(out, tmp_path / "src" / "images"), expected)
    for said in ("'Cat' and 'cat' differ only in case", "1 label files without an image", "orphan.json",
                 "1 polygons with fewer than 3 points", "1 'line' shapes", "1 images in", "have no LabelMe file",
                 f"images: {tmp_path / 'src' / 'images'}", "train with: python tools/train.py --train-ann"):
        assert said in done.stdout, said


@pytest.mark.parametrize("names_as_dict", [True, False], ids=["names dict", "names list"])
def test_yolo_polygons_boxes_and_background_images(tmp_path, names_as_dict):
    expected = write_yolo(str(tmp_path / "src"), names_as_dict)
    out = tmp_path / "instances.json"
    done = tool("convert.py", "yolo", tmp_path / "src", out)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["categories"]] == ["bike", "person"]  # ids from 1 in name order
    assert printed_image_folder(done) == str(tmp_path / "src" / "images" / "train")
    assert_objects_match(converted_objects(out, printed_image_folder(done)),
                         {f"{name[len('train/'):]}": objects for name, objects in expected.items()})
    for said in ("1 box-only labels", "1 polygons with fewer than 3 points", "1 label files without an image",
                 "1 images have no label file: kept"):
        assert said in done.stdout, said


def test_instance_id_masks_with_one_class_name(tmp_path):
    expected = write_instance_masks(str(tmp_path / "src"))
    out = tmp_path / "instances.json"
    done = tool("convert.py", "masks", tmp_path / "src", out, "--class-name", "pedestrian")
    assert done.returncode == 0, done.stderr
    assert_objects_match(converted_objects(out, tmp_path / "src" / "PNGImages"), expected, min_iou=1.0)
    assert "1 images have no mask" in done.stdout


def test_val_fraction_writes_the_same_disjoint_split_for_the_same_seed(tmp_path):
    write_labelme(str(tmp_path / "src"))
    files = []
    for run in ("first", "second"):
        done = tool("convert.py", "labelme", tmp_path / "src", tmp_path / run / "mine.json", "--val-fraction", 0.5,
                    "--seed", 3)
        assert done.returncode == 0, done.stderr
        assert "--val-ann" in done.stdout and sorted(os.listdir(tmp_path / run)) == ["mine_train.json",
                                                                                   "mine_val.json"]
        files.append({split: json.loads((tmp_path / run / f"mine_{split}.json").read_text())
                      for split in ("train", "val")})
    assert files[0] == files[1]
    names = {split: {i["file_name"] for i in files[0][split]["images"]} for split in ("train", "val")}
    assert not names["train"] & names["val"] and names["train"] | names["val"] == {"a.jpg", "b.png"}
    assert files[0]["train"]["categories"] == files[0]["val"]["categories"]


def test_bad_input_gets_one_line_naming_the_file(tmp_path):
    write_labelme(str(tmp_path / "src"))
    (tmp_path / "src" / "labels" / "broken.json").write_text("{not json")
    broken = refused("convert.py", "labelme", tmp_path / "src", tmp_path / "out.json")
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1 and "broken.json" in broken.stderr
    assert not (tmp_path / "out.json").exists() and not list(tmp_path.glob(".*.tmp"))  # nothing written half
    write_yolo(str(tmp_path / "yolo"))
    (tmp_path / "yolo" / "labels" / "train" / "a.txt").write_text("7 0.1 0.1 0.2 0.1 0.2 0.2\n")
    bad_class = refused("convert.py", "yolo", tmp_path / "yolo", tmp_path / "out.json")
    assert bad_class.returncode == 2 and "a.txt:1" in bad_class.stderr and "class 7" in bad_class.stderr
    missing = refused("convert.py", "masks", tmp_path / "nowhere", tmp_path / "out.json")
    assert missing.returncode == 2 and "nowhere" in missing.stderr and missing.stderr.count("\n") == 1


@pytest.mark.parametrize("fmt,writer", [("labelme", write_labelme), ("yolo", write_yolo)])
def test_a_converted_folder_trains_one_epoch(tmp_path, fmt, writer):
    writer(str(tmp_path / "src"))
    out = tmp_path / "instances.json"
    converted = tool("convert.py", fmt, tmp_path / "src", out)
    assert converted.returncode == 0, converted.stderr
    image_dir = printed_image_folder(converted)
    done = tool("train.py", "--train-ann", out, "--train-images", image_dir, "--val-ann", out, "--val-images",
                image_dir, "--epochs", 1, "--output", tmp_path / "run", *TINY_MODEL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "epoch 1: bbox AP" in done.stdout and (tmp_path / "run" / "checkpoints" / "best.pth").exists()


def test_the_labelme_example_round_trips_to_the_same_objects(tiny_shapes, tmp_path):
    """The built-in set written as LabelMe (polygons and mask shapes), converted back: the same masks and names."""
    done = tool("make_labelme_example.py", tmp_path / "labelme", "--num", 6, "--data-root", tiny_shapes)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "instances.json"
    converted = tool("convert.py", "labelme", tmp_path / "labelme", out)
    assert converted.returncode == 0, converted.stderr
    image_dir, ann_file = coco2017_paths(tiny_shapes, "train")
    original = converted_objects(ann_file, image_dir)
    got = converted_objects(out, printed_image_folder(converted))
    assert len(got) == 6 and sum(len(objects) for objects in got.values()) > 6
    assert_objects_match(got, {name: [(n, m.astype(np.uint8)) for n, m in original[name]] for name in got},
                         min_iou=1.0)


def test_a_photo_stored_sideways_with_exif_orientation_converts_and_trains_upright(tmp_path):
    """Phone photos are stored sideways with an EXIF orientation; LabelMe and OpenCV show them upright, so the
    converted file must record the upright size, or the dataset would refuse the decoded image."""
    from PIL import Image

    from dataset.image_io import read_rgb

    from tests.convert_fixtures import photo

    os.makedirs(tmp_path / "src")
    stored = Image.fromarray(photo(5)[:, :100])  # stored 100 wide, 120 high; shown turned: 120 wide, 100 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored.save(tmp_path / "src" / "phone.jpg", exif=exif)
    shown_height, shown_width = read_rgb(str(tmp_path / "src" / "phone.jpg")).shape[:2]
    assert (shown_width, shown_height) == (120, 100)
    polygon = [[10, 10], [110, 12], [100, 90], [15, 80]]  # in the upright frame, as LabelMe shows it
    (tmp_path / "src" / "phone.json").write_text(json.dumps(
        {"shapes": [{"label": "thing", "points": polygon, "group_id": None, "shape_type": "polygon"}],
         "imagePath": "phone.jpg", "imageHeight": shown_height, "imageWidth": shown_width}))
    out = tmp_path / "instances.json"
    assert tool("convert.py", "labelme", tmp_path / "src", out).returncode == 0
    image = json.loads(out.read_text())["images"][0]
    assert (image["width"], image["height"]) == (120, 100)
    dataset = CocoInstanceDataset(tmp_path / "src", out)
    _, target = dataset[0]  # would raise if the recorded size were the stored one
    assert target["masks"].shape == (1, 100, 120)
