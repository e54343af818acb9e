"""Run a trained model on images, folders and videos: draw the instances and write them as JSON.

    python tools/predict.py datasets/shapes/val2017/000001000001.jpg
    python tools/predict.py photos/ "more/*.png" --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth
    python tools/predict.py photos/ --no-draw --batch-size 2 --coco-results result/photos.json
    python tools/predict.py clip.mp4 --every 2
    python tools/predict.py aerial.tif --tile 800 --tile-overlap 128
    python tools/predict.py photos/ --weights model.onnx    # an exported model, run by OpenVINO or onnxruntime
    python tools/predict.py photos/ --weights model.xml --precision f32   # OpenVINO's own format, float32

Images: <out>/<name>.json {"image", "width", "height", "instances": [{"label", "name", "score",
"box": [x1, y1, x2, y2], "mask"}]} (``label``: the training dataset's own category id; ``mask``: COCO RLE, or COCO
polygons with --mask-format polygon) and <out>/<name>.jpg, the drawing (images under 512 px a side are drawn
enlarged, so that the captions read). Images are decoded by --workers background processes while the model runs.
Videos (anything OpenCV reads: .mp4, .avi, .mov, ...): <out>/<name>.mp4, annotated, of the same size and at the
same frame rate (divided by --every), and <out>/<name>.jsonl, one {"frame", "time", "instances"} record per
processed frame. --coco-results FILE also writes one COCO results file for all images, for eval.py --results.
--tile SIZE predicts large images from overlapping SIZE px windows at their own resolution, and merges objects cut
by a window's border by mask IoU (see maskrcnn/engine/tiling.py).

--score-thresh is the model's own box_score_thresh: only instances scoring that much get a mask. (COCO evaluation
wants the model's default, 0.05: pass --score-thresh 0.05 with --coco-results.)
--weights FILE.onnx or FILE.xml (written by tools/export.py) runs the exported graph instead of PyTorch, with the
same outputs: --runtime openvino (the default where it is installed) or onnxruntime (.onnx only). OpenVINO runs at
--precision: f32, bf16 (CPUs with native bfloat16) or auto, its own choice (bfloat16 where the CPU has it); the
first line says which. More than one image runs on OpenVINO's async infer requests side by side. The score threshold
is baked in at export, so --score-thresh can only raise it there; --tile and --fast-mode need a PyTorch checkpoint.
A file that cannot be read gets an error line; the others are still processed and the exit status is 1.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from dataset import DatasetError, write_json_atomically
from dataset.image_files import image_file_loader
from dataset.image_io import IMAGE_EXTENSIONS
from dataset.video import VIDEO_EXTENSIONS, VideoReader, VideoWriter, is_video_path
from maskrcnn.engine.prediction_records import MASK_FORMATS, ImageIds, coco_result_records, instance_records
from maskrcnn.engine.predictor import (
    RUNTIMES,
    Predictor,
    ScoreThreshBelowExport,
    TorchPredictor,
    is_exported,
    open_exported,
)
from maskrcnn.export import PRECISIONS
from visualization import draw_prediction, write_rgb

from _common import (
    WEIGHTS_HELP,
    UsageError,
    add_fast_mode_argument,
    check_fast_mode,
    describe_exported,
    make_parser,
    run,
    weights_or_newest,
)

#: Still images smaller than this (short side) are drawn enlarged; video frames keep their size.
DRAW_MIN_SIDE = 512
#: Up to this many images, one line each; more get a progress bar.
LINES_UP_TO = 10


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = make_parser(__doc__)
    parser.add_argument("inputs", nargs="+", help="image or video files, folders (their images and videos) or glob "
                                                  "patterns")
    parser.add_argument("--weights", help=WEIGHTS_HELP + ", or an exported .onnx or OpenVINO .xml model")
    parser.add_argument("--runtime", choices=RUNTIMES,
                        help="an exported model's runtime (default: openvino where installed, else onnxruntime)")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="OpenVINO's inference precision (default: auto, OpenVINO's choice for this CPU)")
    parser.add_argument("--score-thresh", type=float, default=0.5,
                        help="keep instances scoring more than this (the model's box_score_thresh; default: "
                             "%(default)s)")
    parser.add_argument("--out", default=os.path.join("result", "predictions"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=1, help="images (or video frames, or tiles) per forward")
    parser.add_argument("--workers", type=int, default=1, help="image decoding processes (0: none, decode in turn)")
    parser.add_argument("--no-draw", action="store_true", help="write the JSON only (faster)")
    parser.add_argument("--mask-format", choices=MASK_FORMATS, default="rle",
                        help="masks in the JSON: COCO RLE, or COCO polygons from OpenCV contours (default: "
                             "%(default)s)")
    parser.add_argument("--coco-results", metavar="FILE", help="also write one COCO results file for all images")
    parser.add_argument("--coco-ann", metavar="FILE",
                        help="with --coco-results: the annotation file whose image ids the results use (matched by "
                             "file name); without it, a file's name is its id (000000397133.jpg: 397133)")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="videos: process every N-th frame")
    parser.add_argument("--tile", type=int, metavar="SIZE", help="predict large images from overlapping SIZE px "
                                                                 "windows at their own resolution")
    parser.add_argument("--tile-overlap", type=int, default=64, metavar="PX",
                        help="with --tile: how much neighbouring windows overlap (default: %(default)s)")
    add_fast_mode_argument(parser)
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    for name, low in (("batch_size", 1), ("workers", 0), ("every", 1)):
        if getattr(args, name) < low:
            raise UsageError(f"--{name.replace('_', '-')} must be at least {low}, got {getattr(args, name)}")
    if not 0.0 <= args.score_thresh <= 1.0:
        raise UsageError(f"--score-thresh must be in [0, 1], got {args.score_thresh}")
    if args.tile is not None and not 0 <= args.tile_overlap < args.tile:
        raise UsageError(f"--tile-overlap must be at least 0 and less than --tile ({args.tile}), got "
                         f"{args.tile_overlap}")
    if args.coco_ann and not args.coco_results:
        raise UsageError("--coco-ann goes with --coco-results: it gives the results file's image ids")
    if is_exported(args.weights):
        for option, given in (("--tile", args.tile is not None), ("--fast-mode", args.fast_mode)):
            if given:
                raise UsageError(f"{option} needs a PyTorch checkpoint; {args.weights} is an exported model")
        if args.device != "cpu":
            raise UsageError(f"--device {args.device}: an exported model runs on the CPU here")
    else:
        for option in ("runtime", "precision"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option} goes with an exported model (--weights FILE.onnx or FILE.xml)")
    check_fast_mode(args.fast_mode, args.device)


def expand_inputs(inputs: list[str]) -> tuple[list[str], list[str]]:
    """``(image and video paths in order, error lines)``: folders give their image and video files, patterns their
    matches."""
    known = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    paths, errors = [], []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(os.path.join(item, name) for name in os.listdir(item) if name.lower().endswith(known))
            if not found:
                errors.append(f"{item}: folder holds no images or videos ({', '.join(known)})")
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


@dataclass
class Tally:
    """What the run did, for its closing summary line."""
    images: int = 0
    frames: int = 0
    instances: int = 0
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{self.images} images"] + ([f"{self.frames} video frames"] if self.frames else [])
        rate = (self.images + self.frames) / self.seconds if self.seconds else 0.0
        unit = "images/s" if not self.frames else ("frames/s" if not self.images else "images+frames/s")
        return (f"{', '.join(parts)}, {self.instances} instances, {rate:.2f} {unit} ({self.seconds:.1f} s), "
                f"{self.errors} errors")


def predict_images(predictor: Predictor, paths: list[str], names: list[str], args: argparse.Namespace,
                   tally: Tally, coco_results: Optional[list], image_ids: Optional[ImageIds]) -> None:
    quiet = len(paths) > LINES_UP_TO
    bar = tqdm(total=len(paths), unit="image", disable=not quiet, dynamic_ncols=True)
    # with tiles, the batch is of windows; OpenVINO's async requests want several images per call
    batch_size = 1 if args.tile is not None else max(args.batch_size, predictor.batch_hint)
    workers = args.workers if len(paths) > batch_size else 0  # one batch: nothing to decode ahead
    for batch in image_file_loader(paths, batch_size, workers):
        for item in batch:
            if item.error is not None:
                tqdm.write(f"error: {item.error}", file=sys.stderr)
                tally.errors += 1
        loaded = [item for item in batch if item.image is not None]
        if not loaded:
            bar.update(len(batch))
            continue
        started = time.perf_counter()
        outputs = predictor([item.image for item in loaded])
        elapsed = (time.perf_counter() - started) / len(loaded)
        for item, output in zip(loaded, outputs):
            name = names[item.index]
            records = instance_records(output, predictor.categories, args.mask_format)
            height, width = item.image.shape[:2]
            named = {"keypoint_names": list(predictor.categories.keypoints)} if predictor.categories.keypoints else {}
            write_json_atomically(os.path.join(args.out, f"{name}.json"),
                                  {"image": item.path, "width": width, "height": height, **named,
                                   "instances": records})
            if not args.no_draw:
                write_rgb(os.path.join(args.out, f"{name}.jpg"),
                          draw_prediction(item.image, output, predictor.class_names, 0.0, min_side=DRAW_MIN_SIDE,
                                          skeleton=predictor.categories.skeleton or None))
            if coco_results is not None:
                coco_results.extend(coco_result_records(image_ids.id_of(item.path), records))
            tally.images += 1
            tally.instances += len(records)
            if not quiet:
                print(f"{item.path}: {len(records)} instances, {elapsed * 1000:.0f} ms -> {args.out}/{name}.json")
        bar.update(len(batch))
    bar.close()


def predict_video(predictor: Predictor, path: str, name: str, args: argparse.Namespace, tally: Tally) -> None:
    reader = VideoReader(path)
    info = reader.info
    video_path = os.path.join(args.out, f"{name}.mp4")
    writer = None if args.no_draw else VideoWriter(video_path, info.width, info.height, info.fps / args.every)
    total = -(-info.frame_count // args.every) if info.frame_count else None
    bar = tqdm(total=total, unit="frame", desc=os.path.basename(path), dynamic_ncols=True)
    processed = instances = 0
    try:
        with open(os.path.join(args.out, f"{name}.jsonl"), "w") as records_file:
            batch: list[tuple[int, np.ndarray]] = []
            for index, frame in enumerate(reader):
                if index % args.every == 0:
                    batch.append((index, frame))
                if len(batch) == args.batch_size:
                    instances += _video_batch(predictor, batch, info.fps, records_file, writer, args.mask_format)
                    processed += len(batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                instances += _video_batch(predictor, batch, info.fps, records_file, writer, args.mask_format)
                processed += len(batch)
                bar.update(len(batch))
    finally:
        bar.close()
        reader.close()
        if writer is not None:
            writer.close()
    tally.frames += processed
    tally.instances += instances
    drawn = "" if writer is None else f"{video_path} and "
    print(f"{path}: {processed} frames, {instances} instances -> {drawn}{args.out}/{name}.jsonl")


def _video_batch(predictor: Predictor, batch: list[tuple[int, np.ndarray]], fps: float, records_file,
                 writer: Optional[VideoWriter], mask_format: str) -> int:
    outputs = predictor([frame for _, frame in batch])
    count = 0
    for (index, frame), output in zip(batch, outputs):
        records = instance_records(output, predictor.categories, mask_format)
        records_file.write(json.dumps({"frame": index, "time": round(index / fps, 3), "instances": records}) + "\n")
        if writer is not None:
            writer.write(draw_prediction(frame, output, predictor.class_names, 0.0,
                                         skeleton=predictor.categories.skeleton or None))
        count += len(records)
    return count


def open_tool_predictor(args: argparse.Namespace, images: int) -> Predictor:
    """The library's predictor for the options (an exported model compiled for throughput when there are several
    ``images``); its errors in the options' words."""
    if is_exported(args.weights):
        try:
            predictor = open_exported(args.weights, args.score_thresh, args.runtime, args.precision or "auto",
                                      throughput=images > 1 or args.batch_size > 1)
            print(describe_exported(predictor, args.precision or "auto"))
            return predictor
        except ScoreThreshBelowExport as error:
            raise UsageError(f"--score-thresh {error.requested}: {error.path} was exported with score > "
                             f"{error.exported} baked in; export again with --score-thresh {error.requested}") from None
    return TorchPredictor(weights_or_newest(args.weights), args.device, args.score_thresh, fast=args.fast_mode,
                          tile=args.tile, tile_overlap=args.tile_overlap, batch_size=args.batch_size)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    check_args(args)
    paths, errors = expand_inputs(args.inputs)
    images = [path for path in paths if not is_video_path(path)]
    videos = [path for path in paths if is_video_path(path)]
    image_ids = None
    if args.coco_results:
        image_ids = ImageIds(args.coco_ann)
        missing = image_ids.missing(images)
        if missing:
            where = f"is not in {args.coco_ann}" if args.coco_ann else "has no number for a name; give --coco-ann"
            raise UsageError(f"--coco-results: {missing[0]} {where} ({len(missing)} such images)")
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    predictor = open_tool_predictor(args, len(images))
    os.makedirs(args.out, exist_ok=True)
    names = output_names(paths)
    name_of = dict(zip(paths, names))
    tally = Tally(errors=len(errors))
    coco_results: Optional[list] = [] if args.coco_results else None
    started = time.perf_counter()
    if images:
        predict_images(predictor, images, [name_of[p] for p in images], args, tally, coco_results, image_ids)
    for path in videos:
        try:
            predict_video(predictor, path, name_of[path], args, tally)
        except DatasetError as error:
            print(f"error: {error}", file=sys.stderr)
            tally.errors += 1
    tally.seconds = time.perf_counter() - started
    if coco_results is not None:
        write_json_atomically(args.coco_results, coco_results)
        print(f"COCO results: {len(coco_results)} instances -> {args.coco_results}")
    print(tally.summary())
    return 1 if tally.errors else 0


if __name__ == "__main__":
    run(main)
