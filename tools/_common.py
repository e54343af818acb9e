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

from dataset import CocoInstanceDataset, DatasetError, coco2017_paths, ensure_shapes_dataset
from maskrcnn.checkpoint import CheckpointError
from maskrcnn.engine import newest_checkpoint
from maskrcnn.ops.precision import fast_mode_dtype

DATASETS = ("shapes", "coco2017")
DEFAULT_CHECKPOINTS = os.path.join("result", "checkpoints")
DEFAULT_DATA_ROOTS = {"shapes": os.path.join("datasets", "shapes"), "coco2017": os.path.join("datasets", "coco")}


class UsageError(ValueError):
    """A bad argument combination, reported like the other user mistakes."""


def make_parser(description: Optional[str]) -> argparse.ArgumentParser:
    """A tool's parser: its module docstring as help; no abbreviated options (``--epoch`` is not ``--epochs``)."""
    return argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)


def add_fast_mode_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fast-mode", action="store_true",
                        help="fast mode: float16 autocast on CUDA, bfloat16 on CPUs that have it natively")


def add_data_arguments(parser, default: str = "shapes") -> None:
    parser.add_argument("--data", choices=DATASETS, default=default,
                        help="shapes: the built-in synthetic set (generated on first use); coco2017: COCO-2017 "
                             "(default: %(default)s)")
    parser.add_argument("--data-root", default=None,
                        help="dataset folder (default: datasets/shapes or datasets/coco)")


def data_root(args) -> str:
    return args.data_root or DEFAULT_DATA_ROOTS[args.data]


def check_fast_mode(fast_mode: bool, device: str) -> None:
    """``--fast-mode`` needs CUDA or a CPU with native bfloat16."""
    if fast_mode and fast_mode_dtype(torch.device(device)) is None:
        raise UsageError(f"--fast-mode on {device} needs a CUDA device or a CPU with native bfloat16 (AVX-512 BF16 "
                         f"or AMX); this one has neither")


def open_dataset(data: str, root: str, split: str, transforms=None, filter_empty: bool = False,
                 skip_bad_images: bool = False) -> CocoInstanceDataset:
    """The ``split`` ("train" / "val") of a dataset in the COCO-2017 layout; the shapes set is generated if absent."""
    if data == "shapes":
        ensure_shapes_dataset(root)
    image_dir, ann_file = coco2017_paths(root, split)
    return CocoInstanceDataset(image_dir, ann_file, transforms, filter_empty=filter_empty,
                               skip_bad_images=skip_bad_images)


def weights_or_newest(weights: Optional[str]) -> str:
    """``weights`` if given, else the newest checkpoint under result/checkpoints/, else a UsageError saying how to
    get one."""
    weights = weights or newest_checkpoint(DEFAULT_CHECKPOINTS)
    if weights is None:
        raise UsageError(f"no weights: none given and no checkpoint under {DEFAULT_CHECKPOINTS}/; train one on the "
                         f"built-in set (python tools/train.py) or pass a torchvision file (--weights "
                         f"maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth)")
    return weights


def run(main: Callable[[Optional[list[str]]], int], argv: Optional[list[str]] = None) -> None:
    """Run a tool's ``main``; user mistakes become ``error: ...`` and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        status = main(argv)
    except (DatasetError, CheckpointError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        status = 2
    sys.exit(status)
