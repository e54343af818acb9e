"""``benchmark.py export``: the ONNX export of a torchvision-layout Mask R-CNN file, how well onnxruntime reproduces
eager PyTorch on photo-size images, and inference time: onnxruntime and OpenVINO (float32, bfloat16 where the CPU
has it natively, and OpenVINO's own choice) vs ours (plain, optimised, scripted) vs torchvision, same image, same
threads, same process.

The weights are a trained-like ResNet-50-FPN (maskrcnn.testing.pretrained_like_pair: trained-like batch norm
statistics, spread class scores) saved as a torchvision file and exported as tools/export.py does (load_detector,
score threshold baked in). The images are smooth random photos with sharp blobs at common COCO sizes, none of them
the trace size; the model resizes them to 800 px.
"""
import argparse
import os
import tempfile
import time
import warnings

import cv2
import torch

from dataset import image_to_tensor, read_rgb
from maskrcnn import optimize, testing
from maskrcnn.engine import load_detector
from maskrcnn.export import ExportError, OnnxDetector, OpenVinoDetector, agreement, convert_to_openvino, export_onnx

from benchmarks.model import machine_description
from benchmarks.predict import write_photos
from benchmarks.timing import median_ms

#: (h, w) of the compared photos: COCO's most common shapes, landscape and portrait.
PHOTO_SIZES = [(427, 640), (640, 480), (375, 500)]


def installed(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def photos(folder: str, seed: int) -> list[torch.Tensor]:
    """One photo-like JPEG per size of :data:`PHOTO_SIZES` (written at 480 x 640, resized)."""
    return [image_to_tensor(cv2.resize(read_rgb(write_photos(folder, 1, seed + k)[0]), (w, h),
                                       interpolation=cv2.INTER_AREA))
            for k, (h, w) in enumerate(PHOTO_SIZES)]


def run_export(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    theirs, _ = testing.pretrained_like_pair(args.seed)
    theirs.eval()
    versions = f"onnxruntime {__import__('onnxruntime').__version__}"
    if installed("openvino"):
        versions += f", OpenVINO {__import__('openvino').__version__}"
    print(f"{machine_description(torch.device('cpu'))}, {versions}")
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "maskrcnn_resnet50_fpn.pth")
        torch.save(theirs.state_dict(), weights)
        images = photos(tmp, args.seed)
        for score_thresh in args.score_thresh:
            theirs.roi_heads.score_thresh = score_thresh
            compare(theirs, weights, images, score_thresh, tmp, args)


def compare(theirs, weights: str, images: list[torch.Tensor], score_thresh: float, tmp: str,
            args: argparse.Namespace) -> None:
    ours, categories = load_detector(weights)
    ours.roi_heads.score_thresh = score_thresh
    path = os.path.join(tmp, "model.onnx")
    started = time.perf_counter()
    export_onnx(ours, path, categories=categories.to_dict())
    export_seconds = time.perf_counter() - started
    detector = OnnxDetector(path, threads=args.threads)
    deployed = {"onnxruntime": detector}
    openvino_rows = []
    if installed("openvino"):
        xml = os.path.join(tmp, "model.xml")
        convert_to_openvino(path, xml)
        for precision in ("f32", "bf16", "auto"):
            try:
                runtime = OpenVinoDetector(xml, precision, threads=args.threads)
            except ExportError as error:  # bf16 on a CPU without it
                print(f"OpenVINO {precision}: {error}")
                continue
            label = f"OpenVINO {precision}" + (f" (its choice: {runtime.precision})" if precision == "auto" else "")
            deployed[label] = runtime
            openvino_rows.append((label, runtime))
    print()
    print(f"Score > {score_thresh}: export of the torchvision-layout maskrcnn_resnet50_fpn file (91 classes) "
          f"{export_seconds:.1f} s, {os.path.getsize(path) / 2 ** 20:.1f} MB")
    print()
    print("| image (h x w) | runtime | torchvision eager: detections | reproduced (same label, box IoU > 0.99) "
          "| exported | mask mean abs diff |")
    print("|---|---|---:|---:|---:|---:|")
    for image in images:
        with torch.inference_mode():
            reference = theirs([image])[0]
        for name, runtime in deployed.items():
            result = agreement(reference, runtime([image])[0])
            print(f"| {image.shape[1]} x {image.shape[2]} | {name} | {result.reference} | {result.reproduced} "
                  f"({100 * result.fraction:.1f} %) | {result.exported} | {result.mask_mean_abs_diff:.1e} |")
    image = images[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
        scripted = torch.jit.script(ours)

    def eager(model):
        def call():
            with torch.inference_mode():
                model([image])
        return call

    rows = [("torchvision eager", eager(theirs)),
            ("ours eager, plain", eager(ours)),
            ("ours TorchScript (torch.jit.script)", eager(scripted)),
            ("onnxruntime (CPU execution provider)", lambda: detector([image]))]
    rows += [(label, (lambda runtime: lambda: runtime([image]))(runtime)) for label, runtime in openvino_rows]
    timed = [(name, median_ms(fn, args.repeats, warmup=1) / 1000) for name, fn in rows]
    optimize(ours)
    timed.insert(2, ("ours eager, optimised (predict.py's model)", median_ms(eager(ours), args.repeats, warmup=1) / 1000))
    print()
    print(f"Inference on the {image.shape[1]} x {image.shape[2]} photo (resized to 800 px), median of {args.repeats} "
          f"runs after a warm-up, {args.threads} threads each:")
    print()
    print("| runtime | ms | vs torchvision eager |")
    print("|---|---:|---:|")
    for name, seconds in timed:
        print(f"| {name} | {seconds * 1000:.0f} | {seconds / timed[0][1]:.2f}x |")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score-thresh", type=float, nargs="+", default=[0.05, 0.5],
                        help="one export and comparison per threshold (default: 0.05, the model's own, where all 100 "
                             "detections per image pass, and 0.5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per runtime (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--seed", type=int, default=0)
