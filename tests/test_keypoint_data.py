"""COCO keypoint files as data: the dataset's ``keypoints`` and ``keypoint_flip``, the horizontal flip's left/right
swap (COCO's flip indices), resize and crop moving the points, one-line errors for counts that do not fit, and
check_data's keypoint findings."""
import json

import cv2
import numpy as np
import pytest
import torch
from torchvision.models._meta import _COCO_PERSON_KEYPOINT_NAMES

from dataset import CocoInstanceDataset, DatasetError
from dataset.keypoints import flip_permutation
from transforms.crop import crop
from transforms.flip import hflip
from transforms.resize import resize

NAMES = ["nose", "left_eye", "right_eye"]
#: two people in a 40 x 60 image: the second one's right eye is not labelled (0, 0, 0)
PEOPLE = [([10, 5, 20, 30], [20, 10, 2, 17, 8, 2, 23, 8, 1]), ([35, 4, 15, 25], [42, 9, 2, 40, 7, 1, 0, 0, 0])]


def write_keypoint_file(root, people=PEOPLE, names=NAMES):
    (root / "images").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "images" / "a.jpg"), np.full((40, 60, 3), 128, np.uint8))
    annotations = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
                    "num_keypoints": sum(1 for v in points[2::3] if v),
                    "segmentation": [[box[0], box[1], box[0] + box[2], box[1], box[0] + box[2], box[1] + box[3],
                                      box[0], box[1] + box[3]]], "keypoints": points}
                   for i, (box, points) in enumerate(people)]
    data = {"images": [{"id": 1, "file_name": "a.jpg", "height": 40, "width": 60}], "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[1, 2], [1, 3]]}]}
    path = root / "person_keypoints.json"
    path.write_text(json.dumps(data))
    return root / "images", path


def test_the_dataset_yields_keypoints_and_their_flip(tmp_path):
    dataset = CocoInstanceDataset(*write_keypoint_file(tmp_path))
    assert dataset.keypoint_names == NAMES and dataset.keypoint_flip == [0, 2, 1]
    _, target = dataset[0]
    expected = torch.tensor([points for _, points in PEOPLE], dtype=torch.float32).reshape(2, 3, 3)
    assert target["keypoints"].dtype == torch.float32
    torch.testing.assert_close(target["keypoints"], expected, rtol=0, atol=0)
    assert target["keypoint_flip"].tolist() == [0, 2, 1]


def test_coco_person_flip_is_cocos_flip_indices():
    # COCO's flip indices (torchvision's detection reference lists them by hand)
    assert flip_permutation(_COCO_PERSON_KEYPOINT_NAMES) == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_flip_mirrors_and_swaps_left_and_right(tmp_path):
    image, target = CocoInstanceDataset(*write_keypoint_file(tmp_path))[0]
    flipped_image, flipped = hflip(image, target)
    first = flipped["keypoints"][0]
    # nose (20, 10) -> (40, 10); the left eye is the old right eye (23, 8) mirrored: (37, 8), visibility 1
    assert first.tolist() == [[40.0, 10.0, 2.0], [37.0, 8.0, 1.0], [43.0, 8.0, 2.0]]
    assert flipped["keypoints"][1, 1].tolist() == [0.0, 0.0, 0.0]  # the unlabelled right eye became the left: zeros
    _, back = hflip(flipped_image, flipped)
    torch.testing.assert_close(back["keypoints"], target["keypoints"])


def test_resize_and_crop_move_the_keypoints(tmp_path):
    image, target = CocoInstanceDataset(*write_keypoint_file(tmp_path))[0]
    _, resized = resize(image, target, 80, 120)
    torch.testing.assert_close(resized["keypoints"][..., :2], target["keypoints"][..., :2] * 2)
    _, cropped = crop(image, target, 0, 15, 40, 30)  # columns 15..44: the nose at x 20 -> 5; x 42 -> 27
    assert cropped["keypoints"][0, 0].tolist() == [5.0, 10.0, 2.0]
    assert cropped["keypoints"][1, 0].tolist() == [27.0, 9.0, 2.0]
    _, narrow = crop(image, target, 0, 21, 40, 30)  # the first person's nose (x 20) is cut off: not labelled
    assert narrow["keypoints"][0, 0].tolist() == [0.0, 0.0, 0.0]


def test_keypoint_counts_that_do_not_fit_are_one_line(tmp_path):
    wrong = [(PEOPLE[0][0], PEOPLE[0][1][:6])]  # two keypoints where the category names three
    with pytest.raises(DatasetError) as error:
        CocoInstanceDataset(*write_keypoint_file(tmp_path, wrong))
    message = str(error.value)
    assert "person_keypoints.json" in message and "6 numbers" in message and "expected 9" in message
    assert "\n" not in message


def test_check_data_reports_keypoint_problems(tmp_path):
    from dataset.check import check_coco
    people = [(PEOPLE[0][0], PEOPLE[0][1][:6]),                 # two keypoints of three: an error
              ([35, 4, 15, 25], [42, 9, 2, 40, 7, 3, 0, 0, 0]),  # visibility 3: an error
              ([10, 5, 20, 30], [20, 10, 2, 55, 8, 2, 0, 0, 0])]  # the left eye (x 55) outside the box: a warning
    image_dir, ann_file = write_keypoint_file(tmp_path, people)
    report = check_coco(str(ann_file), str(image_dir))
    assert any("1 objects without 9 keypoint numbers" in e and "annotation 1" in e for e in report.errors)
    assert any("keypoint visibility other than 0, 1, 2" in e and "[3]" in e for e in report.errors)
    assert any("labelled keypoints outside their box" in w and "annotation 3" in w and "left_eye" in w
               for w in report.warnings)
    (tmp_path / "clean").mkdir()
    image_dir, ann_file = write_keypoint_file(tmp_path / "clean")
    clean = check_coco(str(ann_file), str(image_dir))
    assert not [e for e in clean.errors if "keypoint" in e] and not [w for w in clean.warnings if "keypoint" in w]


def test_drawn_targets_show_labelled_keypoints_only(tmp_path):
    from visualization import draw_target
    dataset = CocoInstanceDataset(*write_keypoint_file(tmp_path))
    image, target = dataset[0]
    assert dataset.categories.skeleton == ((0, 1), (0, 2))
    plain = draw_target(image, {k: v for k, v in target.items() if k != "keypoints"})
    drawn = draw_target(image, target, skeleton=dataset.categories.skeleton)
    changed = np.abs(drawn.astype(int) - plain.astype(int)).sum(axis=2) > 0
    assert changed[10, 20] and changed[8, 23]  # the first person's nose and right eye (x, y = 20, 10 and 23, 8)
    assert not changed[:3, :3].any()  # the second person's unlabelled eye at (0, 0) is not drawn
