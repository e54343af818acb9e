"""The built-in keypoint set (arrows): a valid COCO keypoint file whose points are where the arrows are drawn, whose
left and right barbs are on the arrow's left and right (and stay so through the flip augmentation), deterministic by
seed, clean under check_data, and what ``--data arrows`` trains on."""
import json

import numpy as np
import pytest
import torch

from dataset import CocoInstanceDataset, coco2017_paths, generate_arrows_dataset, read_rgb
from dataset.arrows import KEYPOINT_NAMES, KEYPOINT_SIGMAS, SKELETON, arrow_geometry
from dataset.categories import Categories
from dataset.check import check_coco
from transforms.flip import hflip


@pytest.fixture(scope="module")
def arrows(tmp_path_factory):
    return generate_arrows_dataset(str(tmp_path_factory.mktemp("arrows") / "arrows"), num_train=30, num_val=6,
                                   seed=2)


def side_of(keypoints: torch.Tensor) -> torch.Tensor:
    """For each arrow ``[N, 4, 2+]``: the sign of (tip - tail) x (barb - tail) for the left and the right barb, in
    image axes (y down): negative is on the left of the direction of travel."""
    tip, left, right, tail = (keypoints[:, k, :2].double() for k in range(4))
    direction = tip - tail

    def cross(point):
        offset = point - tail
        return direction[:, 0] * offset[:, 1] - direction[:, 1] * offset[:, 0]
    return torch.stack([cross(left).sign(), cross(right).sign()], dim=1)


def test_the_geometry_puts_left_on_the_left():
    # an arrow pointing right (+x) in image axes (y down): its left is up (smaller y)
    polygon, points = arrow_geometry((50.0, 50.0), 40.0, 0.0)
    tip, left, right, tail = points
    assert tip.tolist() == [70.0, 50.0] and tail.tolist() == [30.0, 50.0]
    assert left[1] < 50 < right[1] and left[0] == right[0]
    assert polygon[0].tolist() == tip.tolist()
    assert (side_of(torch.tensor(points)[None]) == torch.tensor([[-1.0, 1.0]])).all()


def test_a_keypoint_file_with_its_names_sigmas_and_skeleton(arrows):
    image_dir, ann_file = coco2017_paths(arrows, "train")
    data = json.loads(open(ann_file).read())
    (category,) = data["categories"]
    assert category["keypoints"] == list(KEYPOINT_NAMES) and category["keypoint_sigmas"] == list(KEYPOINT_SIGMAS)
    categories = Categories.from_coco_categories(data["categories"])
    assert categories.keypoints == KEYPOINT_NAMES and categories.skeleton == tuple((a - 1, b - 1) for a, b in SKELETON)
    assert len(data["annotations"]) >= len(data["images"])  # 1-3 arrows an image
    visibility = []
    for ann in data["annotations"]:
        points = np.asarray(ann["keypoints"]).reshape(4, 3)
        x, y, w, h = ann["bbox"]
        assert ann["num_keypoints"] == 4 and set(points[:, 2]) <= {1, 2}
        assert ((points[:, 0] >= x) & (points[:, 0] <= x + w) & (points[:, 1] >= y) & (points[:, 1] <= y + h)).all()
        visibility += points[:, 2].tolist()
    assert 1 in visibility and visibility.count(2) > 0.8 * len(visibility)  # some hidden by later shapes, most not
    report = check_coco(ann_file, image_dir)
    assert report.errors == [] and report.warnings == []


def test_the_points_are_on_the_drawn_arrows(arrows):
    """Each visible tip and barb is a corner of the painted arrow: the image there differs from the background a
    little way outside the arrow (checked as: its pixel is closer in colour to the arrow's inside than to the
    background beyond the tip)."""
    dataset = CocoInstanceDataset(*coco2017_paths(arrows, "val"))
    close = total = 0
    for index in range(len(dataset)):
        info = dataset.coco.imgs[dataset.ids[index]]
        image = read_rgb(f"{dataset.image_dir}/{info['file_name']}").astype(np.float64)
        _, target = dataset[index]
        for points, mask in zip(target["keypoints"], target["masks"]):
            tip, tail = points[0, :2].numpy(), points[3, :2].numpy()
            if points[0, 2] != 2:
                continue
            inside = tip + (tail - tip) * 0.15  # a little way back from the tip: inside the arrow head
            beyond = tip + (tip - tail) * 0.15  # as far beyond it: outside
            row, column = (int(v) for v in inside[::-1])
            assert mask[row, column], "a point just behind the tip is on the arrow's mask"
            if 0 <= int(beyond[1]) < image.shape[0] and 0 <= int(beyond[0]) < image.shape[1]:
                total += 1
                close += not mask[int(beyond[1]), int(beyond[0])]
    assert total > 0 and close >= 0.8 * total  # beyond the tip is mostly off the arrow (another shape may be there)


def test_the_flip_keeps_left_barbs_on_the_left(arrows):
    dataset = CocoInstanceDataset(*coco2017_paths(arrows, "train"))
    assert dataset.keypoint_flip == [0, 2, 1, 3]
    for index in range(5):
        image, target = dataset[index]
        expected = torch.tensor([-1.0, 1.0]).expand(len(target["keypoints"]), 2)
        assert (side_of(target["keypoints"]) == expected).all()
        _, flipped = hflip(image, target)
        assert (side_of(flipped["keypoints"]) == expected).all()


def test_the_same_seed_writes_the_same_files(arrows, tmp_path):
    again = generate_arrows_dataset(str(tmp_path / "again"), num_train=30, num_val=6, seed=2)
    for split in ("train", "val"):
        assert open(coco2017_paths(again, split)[1]).read() == open(coco2017_paths(arrows, split)[1]).read()
