"""Preview what the model is fed: a grid of dataset samples after the training transforms, drawn with their targets.

    python tools/visualize_data.py                         # built-in shapes, 12 samples -> result/previews/
    python tools/visualize_data.py --data coco2017 --split val --augment none --num 8
"""
from __future__ import annotations

import argparse
import os
from typing import Optional

import torch

from transforms import POLICIES, augmented_dataset, eval_transforms, train_transforms
from visualization import draw_target, image_grid, write_rgb

from _common import UsageError, add_data_arguments, data_name, make_parser, open_dataset, run


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = make_parser(__doc__)
    add_data_arguments(parser)
    parser.add_argument("--split", choices=("train", "val"), default="train")
    parser.add_argument("--augment", choices=(*POLICIES, "none"), default="hflip",
                        help="training transforms to apply (default: %(default)s, both recipes' policy)")
    parser.add_argument("--num", type=int, default=12, help="number of samples (default: %(default)s)")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("result", "previews", "data_preview.png"))
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.num < 1:
        raise UsageError(f"--num must be at least 1, got {args.num}")
    transforms = eval_transforms() if args.augment == "none" else train_transforms(args.augment)
    dataset = open_dataset(args, args.split, transforms)
    if args.augment != "none":
        dataset = augmented_dataset(dataset, args.augment)
    generator = torch.Generator().manual_seed(args.seed)
    indices = torch.randperm(len(dataset), generator=generator)[:args.num].tolist()
    torch.manual_seed(args.seed)
    drawn = [draw_target(*dataset[i], class_names=dataset.class_names, skeleton=dataset.categories.skeleton)
             for i in indices]
    write_rgb(args.out, image_grid(drawn, columns=args.columns))
    print(f"{args.out}: {len(drawn)} samples of {data_name(args)} {args.split} after '{args.augment}' transforms")
    return 0


if __name__ == "__main__":
    run(main)
