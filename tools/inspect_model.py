"""See inside the model: every stage of one image as pictures on a static HTML page.

    python tools/inspect_model.py datasets/shapes/val2017/000001000001.jpg
    python tools/inspect_model.py photo.jpg --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --out result/inspect/photo
    python tools/inspect_model.py datasets/shapes/val2017/000001000001.jpg \\
        --ann datasets/shapes/annotations/instances_val2017.json --image-id 1000001

Writes <out>/index.html (default out: result/inspect/<image name>/) and one PNG per view: the input as the model
sees it, anchors and objectness per level, proposals before and after NMS, the box head's candidates before the
score threshold and the detections after per-class NMS, the mask logits (a Keypoint R-CNN: each keypoint's heatmap)
and the final overlay; with --ann also the
ground truth, the anchors matched to it and the RoIs sampled for the box head. Each view has a caption with its
counts, shapes and thresholds. Open index.html in any browser; it needs no network.
"""
from __future__ import annotations

import os
from typing import Optional

import torch

from dataset import CocoInstanceDataset, image_to_tensor, read_rgb
from maskrcnn import inspect
from maskrcnn.engine import load_detector
from visualization import inspection_views, write_report

from _common import WEIGHTS_HELP, UsageError, make_parser, run, weights_or_newest


def parse_args(argv: Optional[list[str]]):
    parser = make_parser(__doc__)
    parser.add_argument("image", help="the image to inspect")
    parser.add_argument("--weights", help=WEIGHTS_HELP)
    parser.add_argument("--ann", help="a COCO instances file holding the image's annotation (with --image-id)")
    parser.add_argument("--image-id", type=int, help="the image's id in --ann")
    parser.add_argument("--out", help="folder for index.html and the pictures (default: result/inspect/<image>/)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if (args.ann is None) != (args.image_id is None):
        raise UsageError("--ann and --image-id go together: the annotation file and the image's id in it")
    return args


def annotation_target(args, categories) -> dict:
    """The image's objects from --ann, as the model's labels, checked to be this image."""
    dataset = CocoInstanceDataset(os.path.dirname(os.path.abspath(args.image)), args.ann)
    if args.image_id not in dataset.coco.imgs:
        raise UsageError(f"{args.ann}: no image with id {args.image_id}")
    info = dataset.coco.imgs[args.image_id]
    if os.path.basename(info["file_name"]) != os.path.basename(args.image):
        raise UsageError(f"{args.ann}: image {args.image_id} is {info['file_name']}, not {args.image}")
    if dataset.categories != categories:
        raise UsageError(f"{args.ann} has other categories than the model predicts")
    return dataset.read_target(dataset.ids.index(args.image_id), int(info["height"]), int(info["width"]))


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    image = read_rgb(args.image)
    weights = weights_or_newest(args.weights)
    device = torch.device(args.device)
    model, categories = load_detector(weights, device)
    target = None
    if args.ann is not None:
        target = {k: v.to(device) for k, v in annotation_target(args, categories).items() if k in ("boxes", "labels",
                                                                                                 "masks")}
    inspection = inspect(model, image_to_tensor(image).to(device), target)
    views = inspection_views(inspection, categories.names, categories.keypoints, categories.skeleton or None)
    out = args.out or os.path.join("result", "inspect", os.path.splitext(os.path.basename(args.image))[0])
    notes = [f"{weights} on {args.image}" + (f", annotation {args.image_id} of {args.ann}" if target else "")]
    notes += inspection.notes
    page = write_report(out, f"Inside the model: {os.path.basename(args.image)}", views, notes)
    print(f"wrote {page} and {len(views)} pictures")
    return 0


if __name__ == "__main__":
    run(main)
