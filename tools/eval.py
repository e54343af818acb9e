"""COCO evaluation (bbox and segm) of a checkpoint on a dataset, or of an existing COCO results file.

    python tools/eval.py                                    # newest checkpoint under result/, built-in shapes val
    python tools/eval.py --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --data coco2017 --per-class
    python tools/eval.py --results detections.json --ann datasets/coco/annotations/instances_val2017.json
    python tools/eval.py --weights model.xml --precision bf16   # an exported model, as it is deployed

--weights FILE.onnx or FILE.xml evaluates an exported model (tools/export.py) exactly as a checkpoint, run by
--runtime openvino or onnxruntime at --precision (see predict.py). Export it with --score-thresh 0.05 (the
model's default) for an AP comparable to the checkpoint's: detections under the threshold baked in are missing.

    python tools/eval.py --report                           # also result/report/<weights>/index.html: why is my AP low?
    python tools/eval.py --results detections.json --ann instances_val.json --images val/ --report

Prints COCOeval's tables and writes results.json (COCO results format) and metrics.json
({"bbox": {"AP": ..., "AP50": ..., ...}, "segm": {...}}) to --out.

--report [DIR] writes a static page (index.html, PNG charts by matplotlib: the report extra) and report.json with
every figure: per-class AP and PR curves, where the AP goes (TIDE's error types and the AP each would recover),
a confusion matrix, the RPN's recall next to the anchors' coverage (with a PyTorch model), the images with the most
errors, and findings ranked by the AP they cost (docs/report.md).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from typing import Optional

import torch

import maskrcnn
from dataset import load_coco, read_json, read_rgb, write_json_atomically
from maskrcnn.analysis.evaluation_report import build_report
from maskrcnn.analysis.findings import Advice
from maskrcnn.analysis.proposal_recall import proposal_recall, suggest_anchors
from maskrcnn.engine import eval_loader, evaluate_on_coco, evaluate_results, load_detector
from maskrcnn.engine.coco_evaluation import BACKENDS, RESULT_FIELD
from maskrcnn.engine.inference import has_keypoints
from maskrcnn.engine.predictor import RUNTIMES, is_exported, open_exported
from maskrcnn.engine.recipes import RECIPES
from maskrcnn.export import PRECISIONS
from transforms import eval_transforms
from visualization.report_page import write_report_page

from _common import (
    DATASETS,
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
    parser.add_argument("--report", nargs="?", const=AUTO, metavar="DIR",
                        help="also write the evaluation report (index.html, charts, report.json) to DIR (default: "
                             "result/report/<weights or results file name>/)")
    parser.add_argument("--report-score", type=float, default=0.5, metavar="S",
                        help="the report's score threshold for counting predictions and false positives, the "
                             "confusion matrix and the worst images (default: %(default)s)")
    parser.add_argument("--images", metavar="DIR", help="with --results and --report: the images' folder, to draw "
                                                        "the worst images")
    return parser.parse_args(argv)


AUTO = "auto"


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
        check_results_fit(results, coco, args)
        iou_types = [t for t, key in RESULT_FIELD.items() if any(key in r for r in results)]
        if not results:
            print(f"{args.results} holds no detections: every figure is 0")
            iou_types = ["bbox"]
        metrics, table = evaluate_results(coco, results, iou_types, per_class=args.per_class, backend=args.backend)
        print(table)
        write_json_atomically(os.path.join(args.out, "metrics.json"), metrics)
        print(f"wrote {os.path.join(args.out, 'metrics.json')}")
        if args.report:
            notes = [] if results else [f"{args.results} holds no detections: every object is missed."]
            if "segm" not in iou_types and results:
                notes.append("The results have boxes only (no 'segmentation'): the box sections only.")
            notes.append("Scored from a results file: the proposals section needs a model (--weights).")
            read_image = image_reader(coco, args.images) if args.images else None
            write_report(args, coco, results, iou_types, None, notes, {"results": args.results, "data": args.ann},
                         read_image, report_name(args.results))
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
    args.keypoints = has_keypoints(model)  # --data coco2017: its person keypoint files
    dataset = open_dataset(args, args.split, eval_transforms())
    if categories != dataset.categories:
        trained_on = (training_record(weights) or {}).get("data")
        hint = f"; it was trained with --data {trained_on}" if trained_on in DATASETS and trained_on != args.data \
            else ""
        raise UsageError(f"{weights} predicts other categories than {dataset.ann_file} holds: "
                         f"{describe(categories)} against {describe(dataset.categories)}{hint}")
    started = time.perf_counter()
    loader = eval_loader(dataset, batch_size, args.workers)
    metrics, table, results, _ = evaluate_on_coco(model, loader, device, per_class=args.per_class,
                                                  fast_mode=args.fast_mode, backend=args.backend)
    print(f"{weights} on {data_name(args)} {args.split} ({len(dataset)} images, {time.perf_counter() - started:.0f} s)")
    print(table)
    write_json_atomically(os.path.join(args.out, "results.json"), results)
    write_json_atomically(os.path.join(args.out, "metrics.json"), metrics)
    print(f"wrote {os.path.join(args.out, 'results.json')} and metrics.json")
    if args.report:
        iou_types = list(metrics)
        notes = [] if "segm" in iou_types else ["The model predicts boxes only: the box sections only."]
        if is_exported(weights):
            proposals = {"note": "Not measured: an exported model runs as one graph, its proposals are not visible "
                                 "(evaluate the checkpoint it was exported from)."}
        else:
            proposals = proposal_section(model, loader, device)
        meta = {"weights": weights, "data": f"{data_name(args)} {args.split}"}
        write_report(args, dataset.coco, results, iou_types, proposals, notes, meta,
                     image_reader(dataset.coco, dataset.image_dir), report_name(weights), dataset.ids,
                     training_record(weights))
    return 0


def report_name(path: str) -> str:
    """The report folder's name: the file's, with its run's folder for a checkpoint in ``<run>/checkpoints/``
    (``result/demo/checkpoints/last.pth``: ``demo-last``)."""
    path = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(path))[0] or "report"
    folder = os.path.dirname(path)
    if os.path.basename(folder) == "checkpoints" and os.path.basename(os.path.dirname(folder)) not in ("", "result"):
        return f"{os.path.basename(os.path.dirname(folder))}-{stem}"
    return stem


def image_reader(coco, folder: str):
    if not os.path.isdir(folder):
        raise UsageError(f"--images {folder}: folder not found")
    return lambda image_id: read_rgb(os.path.join(folder, coco.imgs[image_id]["file_name"]))


#: The findings name the tools' options.
ADVICE = Advice(anchors="train.py --anchor-sizes {sizes} --aspect-ratios {ratios}", min_size="--min-size",
                keep_empty="--keep-empty", epochs="--epochs {epochs}")

#: The proposals section looks at this many images at most (a second pass of the backbone and RPN).
PROPOSAL_IMAGES = 500


def proposal_section(model, loader, device: torch.device) -> dict:
    """The RPN's recall and the anchors' coverage, with anchors that would fit better; a note where the model has no
    torchvision-style RPN."""
    if not all(hasattr(model, part) for part in ("transform", "backbone", "rpn")):
        return {"note": "Not measured: the model has no torchvision-style transform, backbone and RPN."}
    recall, boxes, sizes = proposal_recall(model, loader, device, max_images=PROPOSAL_IMAGES)
    section = recall.to_dict()
    transform = model.transform
    min_size, max_size = int(transform.min_size[-1]), int(transform.max_size)
    generator = model.rpn.anchor_generator
    if len(generator.sizes) == 5:  # a ResNet-FPN's one size per level: the ladders suggest_anchors tries
        section["anchors"] = suggest_anchors(boxes, sizes, min_size, max_size, generator)
    return section


def training_record(weights: str) -> Optional[dict]:
    """What a checkpoint of ours says of its run (epochs, learning rate, and its recipe's), for the findings."""
    if not os.path.isfile(weights):
        return None
    try:
        data = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 (load_detector read it already; a file it can read but this cannot: no record)
        return None
    args = data.get("args") if isinstance(data, dict) else None
    if not isinstance(args, dict) or args.get("recipe") not in RECIPES:
        return None
    recipe = RECIPES[args["recipe"]]
    return {"recipe": args["recipe"], "data": args.get("data"), "epochs": int(data.get("epoch", args.get("epochs", 0))),
            "recipe_epochs": recipe.epochs, "lr": args.get("lr"),
            "recipe_lr": recipe.learning_rate(args.get("batch_size", recipe.batch_size))}


def write_report(args, coco, results: list, iou_types: list, proposals, notes: list, meta: dict, read_image,
                 name: str, image_ids=None, training=None) -> None:
    folder = os.path.join("result", "report", name) if args.report == AUTO else args.report
    started = time.perf_counter()
    iou_types = [t for t in iou_types if t in ("bbox", "segm")]  # the report's analyses are of boxes and masks
    report = build_report(coco, results, iou_types, image_ids=image_ids, score_thresh=args.report_score,
                          backend=args.backend, proposals=proposals, training=training, notes=notes, meta=meta,
                          advice=ADVICE)
    try:
        page = write_report_page(folder, report, coco, f"Evaluation report: {name}", read_image)
    except ImportError as error:
        raise UsageError(str(error)) from None
    write_json_atomically(os.path.join(folder, "report.json"), json_safe(report.data))
    print(f"report ({time.perf_counter() - started:.0f} s): {page} and report.json")
    for rank, finding in enumerate(report.data["findings"][:5], 1):
        print(f"  {rank}. {finding['text']}")


def json_safe(value):
    """nan (a class without objects of a size) as null: strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def check_results_fit(results: list, coco, args) -> None:
    """One line for a results file of other images or categories than the ground truth's."""
    unknown = {r["image_id"] for r in results} - set(coco.imgs)
    if unknown:
        raise UsageError(f"{args.results}: image ids not in {args.ann}: {sorted(unknown)[:5]}")
    unknown = {r["category_id"] for r in results} - set(coco.cats)
    if unknown:
        raise UsageError(f"{args.results}: category ids not in {args.ann}: {sorted(unknown)[:5]} (it has "
                         f"{sorted(coco.cats)[:10]})")


if __name__ == "__main__":
    run(main)
