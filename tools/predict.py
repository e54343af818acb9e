"""Run a trained model on images: draw the instances and write them as JSON (masks as COCO RLE).

    python tools/predict.py datasets/shapes/val2017/000001000001.jpg
    python tools/predict.py photos/ "more/*.png" --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth

For every image it writes <out>/<name>.jpg (drawn) and <out>/<name>.json:
{"image", "width", "height", "instances": [{"label", "name", "score", "box": [x1, y1, x2, y2],
"mask": {"size": [h, w], "counts": "..."}}]} (``label``: the training dataset's own category id), and prints one
line: the file, how many instances, how long.
Files that cannot be read get an error line each; the others are still processed and the exit status is 1.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from typing import Optional

import numpy as np
import torch

from _common import UsageError, add_fast_mode_argument, check_fast_mode, make_parser, run, weights_or_newest
from dataset import DatasetError, image_to_tensor, mask_to_rle, read_rgb
from dataset.image_io import IMAGE_EXTENSIONS
from maskrcnn import fast_mode, optimize
from maskrcnn.categories import Categories
from maskrcnn.engine import load_detector
from maskrcnn.engine.coco_evaluation import MASK_THRESHOLD
from visualization import draw_prediction, write_rgb



def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = make_parser(__doc__)
    parser.add_argument("inputs", nargs="+", help="image files, folders (their images) or glob patterns")
    parser.add_argument("--weights", help="checkpoint (ours or a torchvision Mask R-CNN file); default: the newest "
                                          "under result/checkpoints/")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="keep instances scoring at least this")
    parser.add_argument("--out", default=os.path.join("result", "predictions"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=1)
    add_fast_mode_argument(parser)
    return parser.parse_args(argv)


def expand_inputs(inputs: list[str]) -> tuple[list[str], list[str]]:
    """``(image paths in order, error lines)``: folders give their image files, patterns their matches."""
    paths, errors = [], []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(os.path.join(item, name) for name in os.listdir(item)
                           if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                errors.append(f"{item}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            paths.extend(found)
        elif os.path.exists(item):
            paths.append(item)
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not found:
                errors.append(f"{item}: no file matches")
            paths.extend(found)
        else:
            errors.append(f"{item}: file not found")
    return paths, errors


def output_names(paths: list[str]) -> list[str]:
    """A distinct file stem per input (``a.jpg`` and ``x/a.png`` become ``a`` and ``a_1``)."""
    names, used = [], set()
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        name, k = stem, 1
        while name in used:
            name, k = f"{stem}_{k}", k + 1
        used.add(name)
        names.append(name)
    return names


def instances_json(path: str, image: np.ndarray, output: dict, categories: Categories) -> dict:
    """``label`` is the dataset's own category id, ``name`` its name."""
    instances = []
    masks = output.get("masks")  # a Faster R-CNN has none
    for k, (box, label, score) in enumerate(zip(output["boxes"].tolist(), output["labels"].tolist(),
                                                output["scores"].tolist())):
        instance = {"label": categories.category_id(label), "name": categories.name(label),
                    "score": round(float(score), 4), "box": [round(v, 2) for v in box]}
        if masks is not None:
            instance["mask"] = mask_to_rle((masks[k, 0] > MASK_THRESHOLD).numpy())
        instances.append(instance)
    return {"image": path, "width": int(image.shape[1]), "height": int(image.shape[0]), "instances": instances}


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    check_fast_mode(args.fast_mode, args.device)
    weights = weights_or_newest(args.weights)
    paths, errors = expand_inputs(args.inputs)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    device = torch.device(args.device)
    model, categories = load_detector(weights, device)
    optimize(model)
    failures = len(errors)
    os.makedirs(args.out, exist_ok=True)
    names = output_names(paths)
    for start in range(0, len(paths), args.batch_size):
        batch = []
        for path, name in zip(paths[start:start + args.batch_size], names[start:start + args.batch_size]):
            try:
                batch.append((path, name, read_rgb(path)))
            except DatasetError as error:
                print(f"error: {error}", file=sys.stderr)
                failures += 1
        if not batch:
            continue
        started = time.perf_counter()
        with torch.inference_mode(), fast_mode(device, args.fast_mode):
            outputs = model([image_to_tensor(image).to(device) for _, _, image in batch])
        elapsed = (time.perf_counter() - started) / len(batch)
        for (path, name, image), output in zip(batch, outputs):
            output = {k: v.cpu() for k, v in output.items()}
            keep = output["scores"] >= args.score_thresh
            output = {k: v[keep] for k, v in output.items()}
            write_rgb(os.path.join(args.out, f"{name}.jpg"), draw_prediction(image, output, categories.names, 0.0))
            with open(os.path.join(args.out, f"{name}.json"), "w") as f:
                json.dump(instances_json(path, image, output, categories), f)
            print(f"{path}: {int(keep.sum())} instances, {elapsed * 1000:.0f} ms -> {args.out}/{name}.jpg")
    if failures:
        print(f"{failures} of {len(paths) + len(errors)} inputs failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
