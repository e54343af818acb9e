"""Benchmarks: our implementation against torchvision's, side by side in one process.

    python tools/benchmark.py model          # Mask R-CNN inference and training step, ours vs torchvision
    python tools/benchmark.py model --markdown result/benchmark.md --device cuda
    python tools/benchmark.py nms            # NMS on the model's real workloads
    python tools/benchmark.py predict        # predict.py on a folder of photos vs the same loop with torchvision
    python tools/benchmark.py tiling         # a trained demo model on a large mosaic, whole vs tiled
    python tools/benchmark.py export         # ONNX export: agreement with eager; onnxruntime and OpenVINO vs eager
    python tools/benchmark.py eval           # COCO evaluation: pycocotools vs faster-coco-eval, 5000 images
    python tools/benchmark.py mobilenet      # MobileNetV3 detectors: ours vs torchvision's, vs the ResNet-50 one

Prints medians over repeated runs after a warm-up. Timings are for information only; no test asserts on them.
"""
from __future__ import annotations

import argparse
from typing import Callable

import torch
import torchvision.ops

import maskrcnn

from benchmarks.eval import add_eval_arguments, run_eval
from benchmarks.export import add_export_arguments, run_export
from benchmarks.mobilenet import add_mobilenet_arguments, run_mobilenet
from benchmarks.model import add_model_arguments, run_model
from benchmarks.predict import add_predict_arguments, run_predict
from benchmarks.tiling import add_tiling_arguments, run_tiling
from benchmarks.timing import median_ms


def detector_like_boxes(n: int, generator: torch.Generator, objects: int = 30, image: float = 1066.0) -> torch.Tensor:
    """Boxes clustered around a few objects, as proposals and detections are (random boxes rarely overlap)."""
    centres = torch.rand(objects, 2, generator=generator) * image
    sizes = torch.rand(objects, 2, generator=generator) * 300 + 16
    owner = torch.randint(0, objects, (n,), generator=generator)
    ctr = centres[owner] + torch.randn(n, 2, generator=generator) * sizes[owner] * 0.2
    wh = sizes[owner] * torch.exp(torch.randn(n, 2, generator=generator) * 0.25)
    return torch.cat((ctr - wh / 2, ctr + wh / 2), dim=1)


def nms_workloads(device: torch.device) -> list[tuple[str, Callable, Callable]]:
    g = torch.Generator().manual_seed(0)
    rpn_boxes = detector_like_boxes(5 * 2000, g).to(device)
    rpn_scores = torch.rand(5 * 2000, generator=g).to(device)
    rpn_levels = torch.arange(5).repeat_interleave(2000).to(device)
    head_boxes = detector_like_boxes(1000 * 90, g).to(device)
    head_scores = torch.rand(1000 * 90, generator=g).to(device)
    head_labels = torch.arange(1, 91).repeat(1000).to(device)
    level_boxes, level_scores = rpn_boxes[:2000], rpn_scores[:2000]
    return [
        ("nms, 2000 boxes, IoU 0.7 (one RPN level)",
         lambda: maskrcnn.nms(level_boxes, level_scores, 0.7),
         lambda: torchvision.ops.nms(level_boxes, level_scores, 0.7)),
        ("batched_nms, 5 levels x 2000, IoU 0.7 (RPN, one image)",
         lambda: maskrcnn.batched_nms(rpn_boxes, rpn_scores, rpn_levels, 0.7),
         lambda: torchvision.ops.batched_nms(rpn_boxes, rpn_scores, rpn_levels, 0.7)),
        ("batched_nms, 1000 boxes x 90 classes, IoU 0.5 (box head, one image)",
         lambda: maskrcnn.batched_nms(head_boxes, head_scores, head_labels, 0.5),
         lambda: torchvision.ops.batched_nms(head_boxes, head_scores, head_labels, 0.5)),
    ]


def run_nms(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    print(f"NMS on {device}, {torch.get_num_threads()} threads, median of {args.repeats} runs")
    print("| workload | ours (ms) | torchvision (ms) | ours / torchvision | same result |")
    print("|---|---:|---:|---:|---|")
    for name, ours, theirs in nms_workloads(device):
        same = torch.equal(ours().sort()[0], theirs().sort()[0])
        t_ours = median_ms(ours, args.repeats)
        t_theirs = median_ms(theirs, args.repeats)
        print(f"| {name} | {t_ours:.1f} | {t_theirs:.1f} | {t_ours / t_theirs:.2f} | {'yes' if same else 'NO'} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="what", required=True)
    p_model = sub.add_parser("model", help="Mask R-CNN ResNet-50-FPN, ours vs torchvision, same weights",
                             allow_abbrev=False)
    add_model_arguments(p_model)
    p_model.set_defaults(run=run_model)
    p_nms = sub.add_parser("nms", help="NMS on the model's real workloads", allow_abbrev=False)
    p_nms.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p_nms.add_argument("--repeats", type=int, default=15, help="timed runs per workload (default: 15)")
    p_nms.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    p_nms.set_defaults(run=run_nms)
    p_predict = sub.add_parser("predict", help="predict.py on a folder of photos, ours vs torchvision's loop",
                               allow_abbrev=False)
    add_predict_arguments(p_predict)
    p_predict.set_defaults(run=run_predict)
    p_tiling = sub.add_parser("tiling", help="a trained model on a large mosaic, whole vs tiled", allow_abbrev=False)
    add_tiling_arguments(p_tiling)
    p_tiling.set_defaults(run=run_tiling)
    p_mobilenet = sub.add_parser("mobilenet", help="MobileNetV3 detectors: ours vs torchvision's, and the MobileNet "
                                                   "Mask R-CNN vs the ResNet-50 one", allow_abbrev=False)
    add_mobilenet_arguments(p_mobilenet)
    p_mobilenet.set_defaults(run=run_mobilenet)
    p_export = sub.add_parser("export", help="ONNX export: agreement with eager PyTorch, onnxruntime vs eager speed",
                              allow_abbrev=False)
    add_export_arguments(p_export)
    p_export.set_defaults(run=run_export)
    p_eval = sub.add_parser("eval", help="COCO evaluation: pycocotools vs faster-coco-eval on a synthetic 5000-image "
                                         "set", allow_abbrev=False)
    add_eval_arguments(p_eval)
    p_eval.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    p_eval.set_defaults(run=run_eval)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.run(args)


if __name__ == "__main__":
    main()
