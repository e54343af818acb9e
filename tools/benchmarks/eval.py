"""``benchmark.py eval``: COCO evaluation time of pycocotools' COCOeval against faster-coco-eval's, on a synthetic
COCO-style set of ``--images`` images (640 x 480, 80 categories, 1-12 objects each, polygon masks) and results
made from it (boxes and masks moved and resized, classes sometimes wrong, duplicates, false positives, misses), so
that every kind of match and error occurs. Both backends score the same records; the figures must agree.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from pycocotools import mask as coco_mask

from dataset import load_coco_dict
from maskrcnn.engine.coco_evaluation import BACKENDS, STAT_NAMES, evaluate_results

WIDTH, HEIGHT, CATEGORIES = 640, 480, 80


def polygon(rng: np.random.Generator, x: float, y: float, w: float, h: float) -> list[float]:
    """A star-shaped polygon inside the box (x, y, w, h): 8-16 points."""
    points = int(rng.integers(8, 17))
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radius = rng.uniform(0.6, 1.0, points)
    xs = x + w / 2 * (1 + radius * np.cos(angles))
    ys = y + h / 2 * (1 + radius * np.sin(angles))
    return np.stack([xs, ys], 1).ravel().round(2).tolist()


def synthetic_ground_truth(images: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    annotations = []
    for image_id in range(1, images + 1):
        for _ in range(int(rng.integers(1, 13))):
            w, h = (float(v) for v in np.exp(rng.uniform(np.log(8), np.log(300), 2)))
            x, y = float(rng.uniform(0, WIDTH - w)), float(rng.uniform(0, HEIGHT - h))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": int(rng.integers(1, CATEGORIES + 1)), "bbox": [x, y, w, h],
                                "area": w * h * 0.7, "iscrowd": 0, "segmentation": [polygon(rng, x, y, w, h)]})
    return {"images": [{"id": i, "width": WIDTH, "height": HEIGHT, "file_name": f"{i:012d}.jpg"}
                       for i in range(1, images + 1)],
            "annotations": annotations,
            "categories": [{"id": c, "name": f"class{c}"} for c in range(1, CATEGORIES + 1)]}


def synthetic_results(ground_truth: dict, seed: int) -> list[dict]:
    """Detections made from the ground truth: 85 % found (moved up to 20 % of their size, 10 % with a wrong class,
    5 % twice), plus one false positive per image; every one with a mask (the moved polygon) and a score."""
    rng = np.random.default_rng(seed + 1)
    results = []

    def detection(image_id: int, category_id: int, box: list[float], segmentation: list[float]) -> dict:
        rle = coco_mask.merge(coco_mask.frPyObjects([segmentation], HEIGHT, WIDTH))
        return {"image_id": image_id, "category_id": category_id, "bbox": box, "score": float(rng.uniform(0.05, 1)),
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")}}

    for annotation in ground_truth["annotations"]:
        if rng.uniform() > 0.85:
            continue  # missed
        x, y, w, h = annotation["bbox"]
        dx, dy = rng.uniform(-0.2, 0.2, 2) * (w, h)
        scale = rng.uniform(0.8, 1.2)
        shifted = (np.array(annotation["segmentation"][0]).reshape(-1, 2) - (x + w / 2, y + h / 2)) * scale
        moved = (shifted + (x + w / 2 + dx, y + h / 2 + dy)).ravel().tolist()
        category = annotation["category_id"] if rng.uniform() > 0.1 else int(rng.integers(1, CATEGORIES + 1))
        box = [x + dx + w * (1 - scale) / 2, y + dy + h * (1 - scale) / 2, w * scale, h * scale]
        for _ in range(2 if rng.uniform() < 0.05 else 1):
            results.append(detection(annotation["image_id"], category, box, moved))
    for image in ground_truth["images"]:
        w, h = (float(v) for v in rng.uniform(20, 200, 2))
        x, y = float(rng.uniform(0, WIDTH - w)), float(rng.uniform(0, HEIGHT - h))
        results.append(detection(image["id"], int(rng.integers(1, CATEGORIES + 1)), [x, y, w, h],
                                 polygon(rng, x, y, w, h)))
    return results


def run_eval(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    ground_truth = synthetic_ground_truth(args.images, args.seed)
    results = synthetic_results(ground_truth, args.seed)
    coco = load_coco_dict(ground_truth)
    print(f"{args.images} images, {len(ground_truth['annotations'])} objects, {len(results)} detections "
          f"(made in {time.perf_counter() - started:.0f} s)")
    figures, seconds = {}, {}
    for backend in BACKENDS:
        started = time.perf_counter()
        figures[backend], _ = evaluate_results(coco, results, ("bbox", "segm"), backend=backend)
        seconds[backend] = time.perf_counter() - started
    print()
    print("| backend | bbox + segm evaluation, s | vs pycocotools |")
    print("|---|---:|---:|")
    for backend in BACKENDS:
        print(f"| {backend} | {seconds[backend]:.1f} | {seconds[backend] / seconds['pycocotools']:.2f}x |")
    print()
    for iou_type in ("bbox", "segm"):
        a, b = (figures[backend][iou_type] for backend in BACKENDS)
        worst = max(abs(a[name] - b[name]) for name in STAT_NAMES)
        print(f"{iou_type}: AP {a['AP']:.4f} / {b['AP']:.4f}, largest difference over the 12 figures {worst:.1e}")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=5000, help="synthetic images (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
