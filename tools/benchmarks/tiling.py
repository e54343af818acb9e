"""``benchmark.py tiling``: a trained model on a large mosaic of validation images, whole (resized to the model's
size) and tiled (maskrcnn.engine.tiling, windows at the mosaic's own resolution), against the mosaic's ground truth.

Every ground-truth object is matched to the detections of its class that cover it with mask IoU >= 0.5: found once,
found more than once (a duplicate), or missed; detections that match nothing are counted too.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from dataset import coco2017_paths, ensure_shapes_dataset, image_to_tensor, load_coco, read_rgb, segmentation_to_mask
from maskrcnn.engine import load_detector
from maskrcnn.engine.tiling import predict_tiled
from maskrcnn.roi_heads.mask_paste import MASK_THRESHOLD

from _common import weights_or_newest
from benchmarks.model import machine_description


def build_mosaic(root: str, rows: int, cols: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """The first ``rows x cols`` validation images side by side (each cell as large as the largest image), and the
    non-crowd objects as ``(category id, mask)`` in mosaic pixels."""
    image_dir, ann_file = coco2017_paths(root, "val")
    coco = load_coco(ann_file)
    images = sorted(coco.dataset["images"], key=lambda image: image["id"])[:rows * cols]
    cell_h, cell_w = max(i["height"] for i in images), max(i["width"] for i in images)
    mosaic = np.zeros((rows * cell_h, cols * cell_w, 3), dtype=np.uint8)
    truths = []
    for k, info in enumerate(images):
        y0, x0 = (k // cols) * cell_h, (k % cols) * cell_w
        mosaic[y0:y0 + info["height"], x0:x0 + info["width"]] = read_rgb(os.path.join(image_dir, info["file_name"]))
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]], iscrowd=False)):
            mask = np.zeros(mosaic.shape[:2], dtype=bool)
            mask[y0:y0 + info["height"], x0:x0 + info["width"]] = segmentation_to_mask(
                ann["segmentation"], info["height"], info["width"]).astype(bool)
            truths.append((ann["category_id"], mask))
    return mosaic, truths


def count_matches(output: dict, truths: list, category_ids: list[int], iou: float = 0.5) -> dict[str, int]:
    masks = output["masks"][:, 0] > MASK_THRESHOLD
    labels = [category_ids[int(label)] for label in output["labels"]]
    used = np.zeros(len(labels), dtype=bool)
    counts = {"found once": 0, "found more than once": 0, "missed": 0}
    for category, mask in truths:
        truth = torch.from_numpy(mask)
        hits = [k for k in range(len(labels)) if labels[k] == category
                and (masks[k] & truth).sum() / max(int((masks[k] | truth).sum()), 1) >= iou]
        used[hits] = True
        counts["missed" if not hits else "found once" if len(hits) == 1 else "found more than once"] += 1
    counts["detections matching nothing"] = int((~used).sum())
    return counts


def run_tiling(args: argparse.Namespace) -> None:
    model, categories = load_detector(weights_or_newest(args.weights))
    model.roi_heads.score_thresh = args.score_thresh
    mosaic, truths = build_mosaic(ensure_shapes_dataset(args.data_root), args.rows, args.cols)
    image = image_to_tensor(mosaic)
    tile = args.tile or model.transform.min_size[-1]
    rows = []
    with torch.inference_mode():
        started = time.perf_counter()
        whole = model([image])[0]
        rows.append((f"whole, resized to {model.transform.min_size[-1]} px", time.perf_counter() - started, whole))
        started = time.perf_counter()
        tiled = predict_tiled(model, image, tile, args.overlap)
        rows.append((f"tiled: {tile} px windows, {args.overlap} px overlap", time.perf_counter() - started, tiled))
    print(f"a {mosaic.shape[1]} x {mosaic.shape[0]} mosaic of {args.rows * args.cols} validation images, "
          f"{len(truths)} objects; score > {args.score_thresh}, mask IoU >= 0.5; "
          f"{machine_description(torch.device('cpu'))}")
    print()
    names = list(count_matches(whole, truths, [categories.category_id(k) for k in range(categories.num_classes)]))
    print("| prediction | " + " | ".join(names) + " | seconds |")
    print("|---|" + "---:|" * (len(names) + 1))
    ids = [categories.category_id(k) for k in range(categories.num_classes)]
    for name, seconds, output in rows:
        counts = count_matches(output, truths, ids)
        print(f"| {name} | " + " | ".join(str(counts[n]) for n in names) + f" | {seconds:.1f} |")


def add_tiling_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="a model trained on the built-in set (default: the newest under "
                                          "result/checkpoints/)")
    parser.add_argument("--data-root", default=os.path.join("datasets", "shapes"))
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--cols", type=int, default=5)
    parser.add_argument("--tile", type=int, help="window size (default: the model's min_size)")
    parser.add_argument("--overlap", type=int, default=48, help="(default: %(default)s)")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="(default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
