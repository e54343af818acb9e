"""COCO evaluation (bbox and segm) of a checkpoint on a dataset, or of an existing COCO results file.

    python tools/eval.py                                    # newest checkpoint under result/, built-in shapes val
    python tools/eval.py --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --data coco2017 --per-class
    python tools/eval.py --results detections.json --ann datasets/coco/annotations/instances_val2017.json
    python tools/eval.py --weights model.xml --precision bf16   # an exported model, as it is deployed

--weights FILE.onnx or FILE.xml evaluates an exported model (tools/export.py) exactly as a checkpoint, run by
--runtime openvino or onnxruntime at --precision (see predict.py). Export it with --score-thresh 0.05 (the
model's default) for an AP comparable to the checkpoint's: detections under the threshold baked in are missing.

Prints COCOeval's tables and writes results.json (COCO results format) and metrics.json
({"bbox": {"AP": ..., "AP50": ..., ...}, "segm": {...}}) to --out.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from typing import Optional

import torch

import maskrcnn
from dataset import load_coco, read_json, write_json_atomically
from maskrcnn.engine import eval_loader, evaluate_on_coco, evaluate_results, load_detector
from maskrcnn.engine.coco_evaluation import BACKENDS
from maskrcnn.engine.predictor import RUNTIMES, is_exported, open_exported
from maskrcnn.export import PRECISIONS
from transforms import eval_transforms

from _common import (
    WEIGHTS_HELP,
    UsageError,
    add_data_arguments,
    add_fast_mode_argument,
    check_fast_mode,
    data_name,
    describe_exported,
    make_parser,
    open_dataset,
    run,
    weights_or_newest,
)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = make_parser(__doc__)
    parser.add_argument("--weights", help=WEIGHTS_HELP + ", or an exported .onnx or OpenVINO .xml model")
    parser.add_argument("--runtime", choices=RUNTIMES,
                        help="an exported model's runtime (default: openvino where installed, else onnxruntime)")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="OpenVINO's inference precision (default: auto, OpenVINO's choice for this CPU)")
    add_data_arguments(parser)
    parser.add_argument("--split", choices=("val", "train"), default="val")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    add_fast_mode_argument(parser)
    parser.add_argument("--per-class", action="store_true", help="also report AP per category")
    parser.add_argument("--backend", choices=BACKENDS, default="pycocotools",
                        help="the COCOeval: pycocotools', or faster-coco-eval's C++ one (the fast-eval extra; the same "
                             "figures, several times faster on large sets); default: %(default)s")
    parser.add_argument("--results", help="score this COCO results JSON instead of running a model (needs --ann)")
    parser.add_argument("--ann", help="ground-truth instances JSON for --results")
    parser.add_argument("--out", default=os.path.join("result", "eval"), help="folder for results.json and "
                                                                                "metrics.json")
    return parser.parse_args(argv)


def describe(categories) -> str:
    named = [f"{i}:{n}" for i, n in zip(categories.ids[1:], categories.names[1:]) if n != "N/A"]
    return f"{len(named)} categories ({', '.join(named[:6])}{', ...' if len(named) > 6 else ''})"


def read_results(path: str) -> list:
    results = read_json(path, "results file", error=UsageError)
    if not isinstance(results, list) or not all(isinstance(r, dict) and {"image_id", "category_id", "score"} <= r.keys()
                                                for r in results):
        raise UsageError(f"{path}: expected a COCO results list of {{'image_id', 'category_id', 'bbox' or "
                         f"'segmentation', 'score'}} records")
    return results


def open_exported_model(args: argparse.Namespace, weights: str) -> tuple:
    """``(detector, categories, batch size)`` of an exported file; prints its runtime, precision and baked-in score
    threshold."""
    if args.fast_mode or args.device != "cpu":
        raise UsageError(f"--fast-mode and --device need a PyTorch checkpoint; {weights} is an exported model (its "
                         f"precision is --precision)")
    predictor = open_exported(weights, None, args.runtime, args.precision or "auto", throughput=True)
    detector = predictor.model
    line = describe_exported(predictor, args.precision or "auto")
    baked = detector.metadata.get("score_thresh")
    if baked is not None:
        line += f"; score > {baked} baked in" + (" (the model's default is 0.05: a lower AP)" if baked > 0.05 else "")
    print(line)
    return detector, predictor.categories, max(args.batch_size, predictor.batch_hint)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.backend == "faster-coco-eval" and importlib.util.find_spec("faster_coco_eval") is None:
        raise UsageError('--backend faster-coco-eval needs the package: pip install -e ".[fast-eval]"')
    if args.results or args.ann:
        if not (args.results and args.ann):
            raise UsageError("--results and --ann go together: a results file and the ground truth it is scored on")
        coco = load_coco(args.ann)
        results = read_results(args.results)
        unknown = {r["image_id"] for r in results} - set(coco.imgs)
        if unknown:
            raise UsageError(f"{args.results}: image ids not in {args.ann}: {sorted(unknown)[:5]}")
        iou_types = [t for t, key in (("bbox", "bbox"), ("segm", "segmentation")) if any(key in r for r in results)]
        metrics, table = evaluate_results(coco, results, iou_types, per_class=args.per_class, backend=args.backend)
        print(table)
        write_json_atomically(os.path.join(args.out, "metrics.json"), metrics)
        print(f"wrote {os.path.join(args.out, 'metrics.json')}")
        return 0

    weights = weights_or_newest(args.weights)
    batch_size = args.batch_size
    if is_exported(weights):
        model, categories, batch_size = open_exported_model(args, weights)
        device = torch.device("cpu")
    else:
        for option in ("runtime", "precision"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option} goes with an exported model (--weights FILE.onnx or FILE.xml)")
        check_fast_mode(args.fast_mode, args.device)
        device = torch.device(args.device)
        model, categories = load_detector(weights, device)
        maskrcnn.optimize(model)
    dataset = open_dataset(args, args.split, eval_transforms())
    if categories != dataset.categories:
        raise UsageError(f"{weights} predicts other categories than {dataset.ann_file} holds: "
                         f"{describe(categories)} against {describe(dataset.categories)}")
    started = time.perf_counter()
    metrics, table, results, _ = evaluate_on_coco(model, eval_loader(dataset, batch_size, args.workers), device,
                                                  per_class=args.per_class, fast_mode=args.fast_mode,
                                                  backend=args.backend)
    print(f"{weights} on {data_name(args)} {args.split} ({len(dataset)} images, {time.perf_counter() - started:.0f} s)")
    print(table)
    write_json_atomically(os.path.join(args.out, "results.json"), results)
    write_json_atomically(os.path.join(args.out, "metrics.json"), metrics)
    print(f"wrote {os.path.join(args.out, 'results.json')} and metrics.json")
    return 0


if __name__ == "__main__":
    run(main)
