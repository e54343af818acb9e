"""``benchmark.py mobilenet``: the MobileNetV3 detectors on one 640x480 image, side by side in one process.

Rows: torchvision's Faster R-CNN MobileNetV3-Large FPN (800 px and 320 px) against ours, plain and optimised
(:func:`maskrcnn.optimize`); our MobileNet Mask R-CNN at 320 px against our ResNet-50 Mask R-CNN at 800 px. Weights
are torchvision's random initialisation made trained-like (batch norm statistics, spread class scores), shared by
both sides; ``--image`` times a real photo instead of the smooth synthetic one. The models of a row are timed in
turn (interleaved), so that drift in the machine's speed falls on all alike. Agreement is checked in float64, where
equal models give equal detections: random heads score many boxes nearly alike, and float32 rounding (the
optimised form folds batch norm) reorders such near-ties, which says nothing about the model.
"""
from __future__ import annotations

import argparse
import copy

import cv2
import torch
from torch import nn
from torchvision.models import detection as tvd

import maskrcnn
from maskrcnn.testing import CLASSIFIER_SCALE, match_detections, randomise_batch_norm, randomise_frozen_batch_norm

from benchmarks.model import machine_description, photo
from benchmarks.timing import interleaved_median_ms


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    randomise_batch_norm(model, generator)
    randomise_frozen_batch_norm(model, generator)
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    return model.eval()


def load_image(path: str | None) -> torch.Tensor:
    if path is None:
        return photo(torch.Generator().manual_seed(0))
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"error: --image {path}: not a readable image")
    return torch.from_numpy(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float() / 255


def pair(name: str) -> tuple[nn.Module, nn.Module]:
    """torchvision's detector ``name`` (trained-like) and ours loaded with its state_dict."""
    torch.manual_seed(0)
    theirs = trained_like(getattr(tvd, name)(weights=None, weights_backbone=None))
    ours = getattr(maskrcnn, name)(weights=None, weights_backbone=None)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours.eval()


def run_mobilenet(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    image = load_image(args.image)
    print(f"{machine_description(torch.device('cpu'))}; image {tuple(image.shape[1:])}, median of {args.repeats} "
          f"runs (ms)")
    print("| model | torchvision | ours | ours optimised | ours optimised / torchvision | ours = torchvision "
          "(float64) |")
    print("|---|---:|---:|---:|---:|---|")
    with torch.no_grad():
        for name in ("fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn"):
            theirs, ours = pair(name)
            fast = maskrcnn.optimize(copy.deepcopy(ours))
            times = interleaved_median_ms([lambda m=m: m([image]) for m in (theirs, ours, fast)], args.repeats)
            a = copy.deepcopy(ours).double()([image.double()])[0]
            b = copy.deepcopy(theirs).double()([image.double()])[0]
            print(f"| {name} | {times[0]:.0f} | {times[1]:.0f} | {times[2]:.0f} | {times[2] / times[0]:.2f} | "
                  f"{len(match_detections(a, b))}/{len(b['boxes'])} |")
        torch.manual_seed(0)
        mobile = trained_like(maskrcnn.maskrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None))
        torch.manual_seed(0)
        resnet = trained_like(maskrcnn.maskrcnn_resnet50_fpn(weights_backbone=None))
        rows = {}
        for label, model in (("Mask R-CNN MobileNetV3-Large 320 px (ours)", mobile),
                             ("Mask R-CNN ResNet-50 800 px (ours)", resnet)):
            fast_model = maskrcnn.optimize(copy.deepcopy(model))
            rows[label] = tuple(interleaved_median_ms([lambda: model([image]), lambda: fast_model([image])],
                                                      args.repeats))
        print("\n| Mask R-CNN | plain | optimised |")
        print("|---|---:|---:|")
        for label, (plain, fast_ms) in rows.items():
            print(f"| {label} | {plain:.0f} | {fast_ms:.0f} |")
        (m_plain, m_fast), (r_plain, r_fast) = rows.values()
        print(f"\nMobileNet 320 px / ResNet-50 800 px: {m_plain / r_plain:.3f} plain, {m_fast / r_fast:.3f} optimised")


def add_mobilenet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", help="a photo to time on (default: a smooth synthetic 640x480 image)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (default: 5)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
