"""What the command-line tools share: choosing a dataset, and turning user mistakes into one-line errors.

The tools are thin: the work is done by the ``maskrcnn``, ``dataset``, ``transforms`` and ``visualization``
packages. A user mistake (a missing file, a bad argument, a checkpoint that does not fit) ends the tool with
``error: <one line>`` on stderr and exit status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, Optional

import torch

from dataset import (
    CocoInstanceDataset,
    DatasetError,
    coco2017_paths,
    ensure_arrows_dataset,
    ensure_shapes_dataset,
    find_split,
)
from maskrcnn.checkpoint import CheckpointError
from maskrcnn.engine import ExportedPredictor, OpenVinoPredictor, newest_checkpoint
from maskrcnn.export import ExportError
from maskrcnn.ops.precision import fast_mode_dtype

#: The datasets known by name; anything else given to --data is a folder in COCO-2017 layout.
DATASETS = ("shapes", "arrows", "coco2017")
#: The built-in sets, generated on first use.
GENERATED = {"shapes": ensure_shapes_dataset, "arrows": ensure_arrows_dataset}
SPLITS = ("train", "val")
DEFAULT_CHECKPOINTS = os.path.join("result", "checkpoints")
DEFAULT_DATA_ROOTS = {"shapes": os.path.join("datasets", "shapes"), "arrows": os.path.join("datasets", "arrows"),
                      "coco2017": os.path.join("datasets", "coco")}


#: What every tool's --weights takes.
WEIGHTS_HELP = ("DEFAULT / COCO_V1 (torchvision's COCO Mask R-CNN, downloaded once into torch.hub's cache), "
                "torchvision's weights by name (e.g. FasterRCNN_MobileNet_V3_Large_FPN_Weights.DEFAULT), or a "
                "checkpoint file (ours or torchvision's); default: the newest checkpoint under result/checkpoints/")


class UsageError(ValueError):
    """A bad argument combination, reported like the other user mistakes."""


def make_parser(description: Optional[str]) -> argparse.ArgumentParser:
    """A tool's parser: its module docstring as help; no abbreviated options (``--epoch`` is not ``--epochs``)."""
    return argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)


def add_fast_mode_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fast-mode", action="store_true",
                        help="fast mode: float16 autocast on CUDA, bfloat16 on CPUs that have it natively")


def add_data_arguments(parser) -> None:
    parser.add_argument("--data", default="shapes", metavar="NAME_OR_FOLDER",
                        help="shapes: the built-in synthetic set (generated on first use); arrows: the built-in "
                             "keypoint set (arrows with four keypoints each); coco2017: COCO-2017; or a "
                             "folder in COCO-2017 layout: annotations/instances_{train,val}*.json and the image "
                             "folders they name (default: %(default)s)")
    parser.add_argument("--data-root", default=None,
                        help="folder of shapes, arrows or coco2017 (default: datasets/<name>, datasets/coco for "
                             "coco2017)")
    for split in SPLITS:
        parser.add_argument(f"--{split}-ann", metavar="FILE", help=f"a COCO instances file for the {split} split "
                                                                  f"(with --{split}-images; instead of --data)")
        parser.add_argument(f"--{split}-images", metavar="DIR", help=f"the folder of the {split} split's images")


def data_root(args) -> str:
    return args.data_root or DEFAULT_DATA_ROOTS[args.data]


def explicit_files(args) -> bool:
    return any(getattr(args, f"{split}_{kind}", None) for split in SPLITS for kind in ("ann", "images"))


def data_name(args) -> str:
    """How the tools name the data in messages: shapes, coco2017, a folder or an annotation file."""
    if explicit_files(args):
        return os.path.basename(args.train_ann or args.val_ann)
    return args.data


def split_paths(args, split: str) -> Optional[tuple[str, str]]:
    """``(image_dir, ann_file)`` of ``split`` in the data the arguments name, or None when it has no such split
    (``args.keypoints``: COCO-2017's person keypoint files rather than its instances files)."""
    if explicit_files(args):
        images, ann = getattr(args, f"{split}_images"), getattr(args, f"{split}_ann")
        if (images is None) != (ann is None):
            raise UsageError(f"--{split}-ann and --{split}-images go together: the annotation file and its images")
        return None if images is None else (images, ann)
    if args.data in DATASETS:
        root = data_root(args)
        if args.data in GENERATED:
            GENERATED[args.data](root)
        # COCO's people with their keypoints are a file of their own; the built-in sets keep one file per split
        kind = "person_keypoints" if args.data == "coco2017" and getattr(args, "keypoints", False) else "instances"
        return coco2017_paths(root, split, kind)
    if not os.path.isdir(args.data):
        raise UsageError(f"--data {args.data}: expected shapes, arrows, coco2017 or a folder in COCO-2017 layout")
    return find_split(args.data, split)


def check_fast_mode(fast_mode: bool, device: str) -> None:
    """``--fast-mode`` needs CUDA or a CPU with native bfloat16."""
    if fast_mode and fast_mode_dtype(torch.device(device)) is None:
        raise UsageError(f"--fast-mode on {device} needs a CUDA device or a CPU with native bfloat16 (AVX-512 BF16 "
                         f"or AMX); this one has neither")


def open_dataset(args, split: str, transforms=None, filter_empty: bool = False,
                 skip_bad_images: bool = False, required: bool = True) -> Optional[CocoInstanceDataset]:
    """The ``split`` ("train" / "val") of the data the arguments name (a built-in set is generated if absent); None
    for a split the data does not have, unless ``required``."""
    paths = split_paths(args, split)
    if paths is None:
        if required:
            raise UsageError(f"no {split} split in {data_name(args)}: give --{split}-ann and --{split}-images, or "
                             f"--data with annotations/instances_{split}*.json")
        return None
    image_dir, ann_file = paths
    return CocoInstanceDataset(image_dir, ann_file, transforms, filter_empty=filter_empty,
                               skip_bad_images=skip_bad_images)


def weights_or_newest(weights: Optional[str]) -> str:
    """``weights`` if given, else the newest checkpoint under result/checkpoints/, else a UsageError saying how to
    get one."""
    weights = weights or newest_checkpoint(DEFAULT_CHECKPOINTS)
    if weights is None:
        raise UsageError(f"no weights: none given and no checkpoint under {DEFAULT_CHECKPOINTS}/; use torchvision's "
                         f"COCO model (--weights DEFAULT), train one on the built-in set (python tools/train.py) or "
                         f"pass a checkpoint file (--weights FILE)")
    return weights


def run(main: Callable[[Optional[list[str]]], int], argv: Optional[list[str]] = None) -> None:
    """Run a tool's ``main``; user mistakes become ``error: ...`` and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        status = main(argv)
    except (DatasetError, CheckpointError, UsageError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        status = 2
    sys.exit(status)


def describe_exported(predictor: ExportedPredictor, asked: str) -> str:
    """The first output line for an exported model: its runtime and, for OpenVINO, the precision it runs at (``asked``
    is the --precision given, ``auto`` by default), the CPU and its async requests."""
    model = predictor.model
    if not isinstance(predictor, OpenVinoPredictor):
        return f"{model.path}: onnxruntime, float32"
    chosen = f"auto: {model.precision}, OpenVINO's choice" if asked == "auto" else model.precision
    requests = f", {model.requests} async requests" if model.requests > 1 else ""
    return f"{model.path}: OpenVINO, precision {chosen} on {model.cpu}{requests}"

