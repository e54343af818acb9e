"""``benchmark.py predict``: images per second of predict.py on a folder of photo-size JPEGs, against the same loop
written with torchvision's model (decode, infer, threshold, RLE, JSON), same weights, same threads.

The weights are a trained-like ResNet-50-FPN (maskrcnn.testing.pretrained_like_pair: trained-like batch norm
statistics, spread class scores), saved as a torchvision file; predict.py loads it as a user's file would be.
The rows:

* torchvision, the usual loop: ``box_score_thresh`` left at 0.05, the threshold applied to the outputs;
* torchvision with ``box_score_thresh`` set to the threshold;
* ours optimised, the same usual loop (what predict.py did before the threshold went into the model);
* predict.py: the threshold inside the model, the optimised model, images decoded by a background worker;
* predict.py on the exported file (tools/export.py's ONNX at the same threshold, and OpenVINO's IR from it):
  onnxruntime, and OpenVINO at float32 and at its own precision choice, several images at a time on its async infer
  requests (``--runtime``, ``--precision``), where the runtimes are installed.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import tempfile
import time

import cv2
import numpy as np
import torch
from torch import nn

from dataset import image_to_tensor, mask_to_rle, read_rgb
from maskrcnn import optimize, testing

from benchmarks.model import machine_description

PHOTO_SIZE = (480, 640)  # h, w: a typical photo; the model resizes it to 800 x 1066


def write_photos(folder: str, count: int, seed: int) -> list[str]:
    """Smooth random images with a few sharp-edged blobs, as JPEG: a photo's decode cost and statistics."""
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(count):
        low = rng.uniform(0, 255, (PHOTO_SIZE[0] // 32, PHOTO_SIZE[1] // 32, 3)).astype(np.float32)
        image = cv2.resize(low, PHOTO_SIZE[::-1], interpolation=cv2.INTER_CUBIC)
        for _ in range(6):
            centre = (int(rng.integers(0, PHOTO_SIZE[1])), int(rng.integers(0, PHOTO_SIZE[0])))
            cv2.circle(image, centre, int(rng.integers(20, 90)), rng.uniform(0, 255, 3).tolist(), -1)
        path = os.path.join(folder, f"{k:06d}.jpg")
        cv2.imwrite(path, np.clip(image, 0, 255).astype(np.uint8))
        paths.append(path)
    return paths


def usual_loop(model: nn.Module, paths: list[str], score_thresh: float, out: str) -> tuple[float, int]:
    """decode, infer, keep scores > thresh, RLE, JSON: ``(images/s, instances)``."""
    started, instances = time.perf_counter(), 0
    for path in paths:
        image = read_rgb(path)
        with torch.inference_mode():
            output = model([image_to_tensor(image)])[0]
        keep = output["scores"] > score_thresh
        records = [{"label": int(label), "score": float(score), "box": box.tolist(),
                    "mask": mask_to_rle((mask[0] > 0.5).numpy())}
                   for box, label, score, mask in zip(output["boxes"][keep], output["labels"][keep],
                                                      output["scores"][keep], output["masks"][keep])]
        with open(os.path.join(out, os.path.basename(path) + ".json"), "w") as f:
            json.dump({"image": path, "instances": records}, f)
        instances += len(records)
    return len(paths) / (time.perf_counter() - started), instances


def predict_tool(weights: str, folder: str, score_thresh: float, out: str, *options: str) -> tuple[float, int]:
    """predict.py's own loop, in this process: its summary line's images/s and instances."""
    import predict

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        predict.main([folder, "--weights", weights, "--no-draw", "--score-thresh", str(score_thresh), "--out", out,
                      *options])
    summary = printed.getvalue().strip().splitlines()[-1]
    found = re.match(r"(\d+) images, (\d+) instances, ([\d.]+) images/s", summary)
    return float(found.group(3)), int(found.group(2))


def exported_rows(model: nn.Module, weights: str, photos: str, score_thresh: float, tmp: str) -> list[tuple]:
    """predict.py on the model exported at ``score_thresh``, for each installed runtime."""
    import importlib.util

    from maskrcnn.engine import load_detector
    from maskrcnn.export import convert_to_openvino, export_onnx

    detector, categories = load_detector(weights)
    detector.roi_heads.score_thresh = score_thresh
    onnx_path, xml_path = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "model.xml")
    export_onnx(detector, onnx_path, categories=categories.to_dict())
    rows = []
    if importlib.util.find_spec("onnxruntime") is not None:
        rows.append(("predict.py, the .onnx on onnxruntime",
                     *predict_tool(onnx_path, photos, score_thresh, os.path.join(tmp, "ort"), "--runtime",
                                   "onnxruntime")))
    if importlib.util.find_spec("openvino") is not None:
        convert_to_openvino(onnx_path, xml_path)
        for precision in ("f32", "auto"):
            rows.append((f"predict.py, the OpenVINO IR, precision {precision} (async requests)",
                         *predict_tool(xml_path, photos, score_thresh, os.path.join(tmp, f"ov_{precision}"),
                                       "--precision", precision)))
    return rows


def run_predict(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    theirs, ours = testing.pretrained_like_pair(args.seed)
    theirs.eval(), ours.eval()
    with tempfile.TemporaryDirectory() as tmp:
        photos = os.path.join(tmp, "photos")
        os.makedirs(photos)
        paths = write_photos(photos, args.images, args.seed)
        weights = os.path.join(tmp, "weights.pth")
        torch.save(theirs.state_dict(), weights)
        usual_loop(theirs, paths[:1], args.score_thresh, tmp)  # warm-up
        rows = []
        rows.append(("torchvision, usual loop (box_score_thresh 0.05, threshold afterwards)",
                     *usual_loop(theirs, paths, args.score_thresh, tmp)))
        theirs.roi_heads.score_thresh = args.score_thresh
        rows.append((f"torchvision, box_score_thresh {args.score_thresh}",
                     *usual_loop(theirs, paths, args.score_thresh, tmp)))
        optimize(ours)
        rows.append(("ours optimised, usual loop (box_score_thresh 0.05, threshold afterwards): predict.py before",
                     *usual_loop(ours, paths, args.score_thresh, tmp)))
        rows.append(("predict.py (threshold in the model, optimised, background decoding)",
                     *predict_tool(weights, photos, args.score_thresh, os.path.join(tmp, "predict"))))
        rows += exported_rows(ours, weights, photos, args.score_thresh, tmp)
    print(f"predict on a folder of {args.images} JPEGs of {PHOTO_SIZE[1]} x {PHOTO_SIZE[0]} (resized to 800 px), "
          f"score > {args.score_thresh}; {machine_description(torch.device('cpu'))}")
    print()
    print("| loop | images/s | instances | vs torchvision's usual loop |")
    print("|---|---:|---:|---:|")
    for name, rate, instances in rows:
        print(f"| {name} | {rate:.3f} | {instances} | {rate / rows[0][1]:.2f}x |")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=8, help="photos in the folder (default: %(default)s)")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="(default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--seed", type=int, default=0)
