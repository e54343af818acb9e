"""Export a trained detector to ONNX (one image in; boxes, labels, scores, masks out), for onnxruntime, OpenVINO and
others, or to OpenVINO's own format (IR: model.xml + model.bin).

    python tools/export.py                                   # newest checkpoint -> result/export/<name>.onnx
    python tools/export.py --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --out model.onnx
    python tools/export.py --weights W --out model.onnx --check photo.jpg other.jpg
    python tools/export.py --weights W --format openvino     # -> result/export/<name>.xml and .bin
    python tools/predict.py photo.jpg --weights model.onnx   # run it with OpenVINO or onnxruntime

The file takes ``images``: float32 [3, H, W], RGB in [0, 1], any H and W, and gives ``boxes`` [N, 4] (xyxy, input
pixels), ``labels`` [N] int64, ``scores`` [N] and ``masks`` [N, 1, H, W] in [0, 1] (torchvision's contract). The
model's settings are baked in: --score-thresh (predict.py can raise it later, not lower it), --min-size and
--max-size (the resize). The categories and these settings are in the file's metadata. --batch writes the batch
form: images [B, 3, H, W] (equal-size images) in, the same outputs over the batch plus batch_index [N] out. --check runs the file and
the PyTorch model on the given images and prints how well they agree (OpenVINO at float32 for --format openvino).
Needs the export extra (pip install -e ".[export]"), and for --format openvino the openvino extra.
"""
import argparse
import os
import sys
import time
from typing import Optional

import torch

from dataset import DatasetError, image_to_tensor, read_rgb
from maskrcnn.engine import load_detector
from maskrcnn.engine.loading import published_weights
from maskrcnn.export import (
    DEFAULT_OPSET,
    ExportError,
    OnnxDetector,
    OpenVinoDetector,
    agreement,
    check_opset,
    convert_to_openvino,
    export_onnx,
    require_onnx,
    require_onnxruntime,
    require_openvino,
)

from _common import WEIGHTS_HELP, UsageError, make_parser, run, weights_or_newest

DEFAULT_OUT_DIR = os.path.join("result", "export")
FORMATS = ("onnx", "openvino")
SUFFIXES = {"onnx": ".onnx", "openvino": ".xml"}


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = make_parser(__doc__)
    parser.add_argument("--weights", help=WEIGHTS_HELP)
    parser.add_argument("--format", choices=FORMATS, default="onnx",
                        help="onnx, or openvino: OpenVINO's IR, an .xml and the .bin beside it (default: %(default)s)")
    parser.add_argument("--out", help=f"the file to write: .onnx, or .xml for --format openvino (default: "
                                      f"{DEFAULT_OUT_DIR}/<weights name>.onnx or .xml)")
    parser.add_argument("--score-thresh", type=float, default=0.5,
                        help="the model's box_score_thresh, baked into the graph (default: %(default)s)")
    parser.add_argument("--min-size", type=int, help="resize: the short side (default: the model's own)")
    parser.add_argument("--max-size", type=int, help="resize: the long side at most (default: the model's own)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default: %(default)s)")
    parser.add_argument("--batch", action="store_true",
                        help="the batch form: images [B, 3, H, W] of equal size in, the same outputs plus "
                             "batch_index [N] (which image each detection is of) out")
    parser.add_argument("--check", nargs="+", metavar="IMAGE",
                        help="after writing, run the file and the PyTorch model on these images and compare")
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    if not 0.0 <= args.score_thresh <= 1.0:
        raise UsageError(f"--score-thresh must be in [0, 1], got {args.score_thresh}")
    for name in ("min_size", "max_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number of pixels, got {value}")
    suffix = SUFFIXES[args.format]
    if args.out is not None and not args.out.endswith(suffix):
        raise UsageError(f"--out {args.out}: expected a file name ending in {suffix} for --format {args.format}")
    check_opset(args.opset)
    require_onnx()
    if args.format == "openvino":
        require_openvino()
        if args.batch:
            raise UsageError("--batch with --format openvino: OpenVINO 2026.4 corrupts memory running the batch "
                             "graph's loop; export one-image graphs (its async requests run images side by side)")
    elif args.check:
        require_onnxruntime()
        for path in args.check:
            if not os.path.isfile(path):
                raise UsageError(f"--check {path}: file not found")


def output_path(args: argparse.Namespace, weights: str) -> str:
    """--out, else result/export/<name of the weights file>.onnx (torchvision's file name for DEFAULT and the like)."""
    if args.out:
        return args.out
    published = published_weights(weights)
    name = os.path.basename(published.url if published is not None else weights)
    return os.path.join(DEFAULT_OUT_DIR, os.path.splitext(name)[0] + SUFFIXES[args.format])


def check_on_images(model, path: str, images: list[str]) -> None:
    detector = OpenVinoDetector(path, precision="f32") if path.endswith(".xml") else OnnxDetector(path)
    for image_path in images:
        try:
            image = image_to_tensor(read_rgb(image_path))
        except DatasetError as error:
            print(f"error: {error}", file=sys.stderr)
            continue
        with torch.inference_mode():
            eager = model([image])[0]
        print(f"{image_path}: {agreement(eager, detector([image])[0]).summary()}")


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_args(args)
    except ExportError as error:
        raise UsageError(str(error)) from None
    weights = weights_or_newest(args.weights)
    model, categories = load_detector(weights, "cpu")
    model.roi_heads.score_thresh = args.score_thresh
    if args.min_size is not None:
        model.transform.min_size = (args.min_size,)
    if args.max_size is not None:
        model.transform.max_size = args.max_size
    path = output_path(args, weights)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    started = time.perf_counter()
    if args.format == "openvino":  # OpenVINO converts the ONNX graph: written next to the IR, then removed
        onnx_path = os.path.splitext(path)[0] + ".export.onnx"
        try:
            export_onnx(model, onnx_path, opset=args.opset, categories=categories.to_dict(), batch=args.batch)
            convert_to_openvino(onnx_path, path)
        finally:
            if os.path.exists(onnx_path):
                os.remove(onnx_path)
        size = os.path.getsize(path) + os.path.getsize(os.path.splitext(path)[0] + ".bin")
        form = "OpenVINO IR + .bin, "
    else:
        export_onnx(model, path, opset=args.opset, categories=categories.to_dict(), batch=args.batch)
        size, form = os.path.getsize(path), ""
    seconds = time.perf_counter() - started
    form += "batch graph, " if args.batch else ""
    print(f"{weights} -> {path} ({form}{size / 2 ** 20:.1f} MB, opset {args.opset}, {seconds:.1f} s; "
          f"score > {args.score_thresh}, resize {model.transform.min_size[-1]}/{model.transform.max_size})")
    if args.check:
        check_on_images(model, path, args.check)
    return 0


if __name__ == "__main__":
    run(main)
