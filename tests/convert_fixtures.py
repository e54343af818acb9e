"""Source folders in other tools' formats, written by the tests: LabelMe, YOLO segmentation, instance-id masks.

Each object's true mask is computed independently of pycocotools and returned, so a test can compare what the
converter produced with what the source meant. The convention is COCO's: coordinates are on pixel edges (a box from
x = 60 to 80 covers pixels 60..79), and a pixel belongs to a shape when its centre lies inside.
"""
from __future__ import annotations

import base64
import json
import os

import cv2
import numpy as np

SIZE = (120, 160)  # height, width


def photo(seed: int) -> np.ndarray:
    """A smooth random RGB image (blurred noise): photo-like statistics, compresses like a photo."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 255, (SIZE[0] // 8, SIZE[1] // 8, 3), dtype=np.uint8)
    return cv2.resize(low, (SIZE[1], SIZE[0]), interpolation=cv2.INTER_CUBIC)


def fill(polygons) -> np.ndarray:
    """Pixels whose centre is inside one of the polygons (even-odd ray casting; OpenCV's fillPoly would also fill
    the pixels its edges touch)."""
    ys, xs = np.mgrid[:SIZE[0], :SIZE[1]] + 0.5
    mask = np.zeros(SIZE, dtype=bool)
    for polygon in polygons:
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        inside = np.zeros(SIZE, dtype=bool)
        for (ax, ay), (bx, by) in zip(points, np.roll(points, -1, axis=0)):
            spans = (ay > ys) != (by > ys)
            x_cross = ax + (bx - ax) * (ys - ay) / np.where(by == ay, 1.0, by - ay)
            inside ^= spans & (xs < x_cross)
        mask |= inside
    return mask.astype(np.uint8)


def disc(cx: float, cy: float, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[:SIZE[0], :SIZE[1]] + 0.5
    return ((xs - cx) ** 2 + (ys - cy) ** 2 <= radius ** 2).astype(np.uint8)


def write_labelme(root: str) -> dict:
    """``root/images/*.jpg`` and ``root/labels/*.json`` (imagePath "../images/..."). Returns the expected objects per
    image file name: ``[(name, mask)]``."""
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "labels"))
    expected = {}
    # a.jpg: a two-part object (same label and group_id), a rectangle, a circle, a line (no area), a 2-point polygon
    part1 = [[10, 10], [50, 12], [45, 40], [12, 35]]
    part2 = [[60, 10], [80, 10], [80, 30], [60, 30]]
    shapes = [
        {"label": "Cat", "points": part1, "group_id": 1, "shape_type": "polygon"},
        {"label": "Cat", "points": part2, "group_id": 1, "shape_type": "polygon"},
        {"label": "dog", "points": [[100, 50], [140, 90]], "group_id": None, "shape_type": "rectangle"},
        {"label": "cat", "points": [[40, 85], [40, 105]], "group_id": None, "shape_type": "circle"},
        {"label": "dog", "points": [[0, 0], [20, 20]], "group_id": None, "shape_type": "line"},
        {"label": "dog", "points": [[5, 100], [30, 110]], "group_id": None, "shape_type": "polygon"},
    ]
    expected["a.jpg"] = [("Cat", fill([part1, part2])), ("dog", fill([[[100, 50], [140, 50], [140, 90], [100, 90]]])),
                         ("cat", disc(40, 85, 20))]
    # b.png: a LabelMe 'mask' shape (a PNG of the box between its two points, inclusive)
    blob = np.zeros((31, 41), dtype=np.uint8)
    cv2.ellipse(blob, (20, 15), (18, 12), 0, 0, 360, 255, thickness=-1)
    encoded = base64.b64encode(cv2.imencode(".png", blob)[1].tobytes()).decode()
    b_mask = np.zeros(SIZE, dtype=np.uint8)
    b_mask[40:71, 60:101] = blob > 0
    expected["b.png"] = [("dog", b_mask)]
    files = {"a.jpg": shapes, "b.png": [{"label": "dog", "points": [[60, 40], [100, 70]], "group_id": None,
                                         "shape_type": "mask", "mask": encoded}]}
    for seed, (name, image_shapes) in enumerate(files.items()):
        cv2.imwrite(os.path.join(root, "images", name), photo(seed))
        with open(os.path.join(root, "labels", os.path.splitext(name)[0] + ".json"), "w") as f:
            json.dump({"version": "5.4.1", "flags": {}, "shapes": [{"flags": {}, **s} for s in image_shapes],
                       "imagePath": f"../images/{name}", "imageData": None, "imageHeight": SIZE[0],
                       "imageWidth": SIZE[1]}, f)
    cv2.imwrite(os.path.join(root, "images", "unlabelled.jpg"), photo(7))  # an image nobody annotated
    with open(os.path.join(root, "labels", "orphan.json"), "w") as f:  # a label whose image is gone
        json.dump({"shapes": [], "imagePath": "../images/gone.jpg"}, f)
    return expected


def write_yolo(root: str, names_as_dict: bool = True) -> dict:
    """``root/images/train/*``, ``root/labels/train/*.txt`` and ``data.yaml``. Returns the expected objects."""
    for sub in ("images/train", "labels/train"):
        os.makedirs(os.path.join(root, sub))
    h, w = SIZE
    with open(os.path.join(root, "data.yaml"), "w") as f:
        f.write("path: .\ntrain: images/train\nval: images/train\n")
        f.write("names:\n  0: person\n  1: bike\n" if names_as_dict else "names: [person, bike]\n")
    polygon = [[20, 15], [70, 20], [60, 80], [25, 70]]
    normalised = " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in polygon)
    lines = [f"0 {normalised}",
             f"1 {110 / w:.6f} {60 / h:.6f} {40 / w:.6f} {30 / h:.6f}",  # a box only: cx cy w h
             f"1 {0.1:.6f} {0.1:.6f} {0.2:.6f} {0.2:.6f} {0.3:.6f}"]  # 2.5 points: not a polygon
    cv2.imwrite(os.path.join(root, "images/train/a.jpg"), photo(1))
    with open(os.path.join(root, "labels/train/a.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    cv2.imwrite(os.path.join(root, "images/train/background.jpg"), photo(2))  # no label file: a background image
    with open(os.path.join(root, "labels/train/orphan.txt"), "w") as f:
        f.write(f"0 {normalised}\n")
    return {"train/a.jpg": [("person", fill([polygon])), ("bike", fill([[[90, 45], [130, 45], [130, 75],
                                                                          [90, 75]]]))],
            "train/background.jpg": []}


def write_instance_masks(root: str) -> dict:
    """PennFudan's layout: ``PNGImages/x.png`` and ``PedMasks/x_mask.png`` (ids 1, 2). Returns expected objects."""
    os.makedirs(os.path.join(root, "PNGImages"))
    os.makedirs(os.path.join(root, "PedMasks"))
    ids = np.zeros(SIZE, dtype=np.uint8)
    ids[10:60, 10:40] = 1
    ids[30:100, 80:130] = 2
    cv2.imwrite(os.path.join(root, "PNGImages", "x.png"), photo(3))
    cv2.imwrite(os.path.join(root, "PedMasks", "x_mask.png"), ids)
    cv2.imwrite(os.path.join(root, "PNGImages", "unmasked.png"), photo(4))
    return {"x.png": [("pedestrian", (ids == 1).astype(np.uint8)), ("pedestrian", (ids == 2).astype(np.uint8))]}
