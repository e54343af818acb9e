"""Check a dataset before training: missing or mis-sized images, duplicate ids, boxes outside their image,
degenerate polygons, categories and images without objects, a table of objects per class, and how well the
detector's anchors fit the training boxes (at the model's input size: --min-size / --max-size).

    python tools/check_data.py --data datasets/mine
    python tools/check_data.py --train-ann mine_train.json --train-images photos/ --val-ann mine_val.json --val-images photos/

Exit status 1 when training would fail (each error is listed), 0 otherwise (warnings are what training works
around: it clips, drops or skips).
"""
from __future__ import annotations

import random
from typing import Optional

import torch

from dataset.check import check_coco
from maskrcnn.analysis.anchor_coverage import SIZE_RANGES, anchor_coverage

from _common import SPLITS, UsageError, add_data_arguments, data_name, make_parser, run, split_paths


def parse_args(argv: Optional[list[str]]):
    parser = make_parser(__doc__)
    add_data_arguments(parser)
    parser.add_argument("--no-images", dest="check_images", action="store_false",
                        help="check the annotation files only, not the image files")
    parser.add_argument("--min-size", type=int, default=800,
                        help="short side the model resizes to, for the anchor coverage (default: %(default)s, "
                             "torchvision's; the built-in recipe trains at 128)")
    parser.add_argument("--max-size", type=int, default=1333, help="long side limit (default: %(default)s)")
    parser.add_argument("--coverage-images", type=int, default=2000,
                        help="training images (a seeded sample) whose boxes the anchor coverage measures "
                             "(default: %(default)s)")
    return parser.parse_args(argv)


def coverage_lines(check, args) -> list[str]:
    """The best-anchor-IoU histogram of the training boxes and the share with a good anchor, per size."""
    sample = check.boxes_by_image
    if len(sample) > args.coverage_images:
        sample = random.Random(0).sample(sample, args.coverage_images)
    coverage = anchor_coverage([torch.tensor(b) for _, b in sample], [size for size, _ in sample], args.min_size,
                               args.max_size)
    lines = [f"anchor coverage of {len(coverage.best_iou)} train boxes ({len(sample)} images; anchors 32..512 x "
             f"ratios 0.5/1/2 on a ResNet-FPN, images resized to short side {args.min_size}, long side <= "
             f"{args.max_size}):", "  best anchor IoU   boxes"]
    counts = coverage.histogram()
    for k, count in enumerate(counts):
        lines.append(f"  {k / 10:.1f}-{(k + 1) / 10:.1f}         {count:>6}  {'#' * round(40 * count / max(max(counts), 1))}")
    lines.append("  size (resized)     boxes  IoU>=0.7  IoU>=0.5")
    for name, low, high in SIZE_RANGES:
        label = f"{name} ({'<' if low == 0 else f'{int(low ** 0.5)}-' if high != float('inf') else '>'}"
        label += f"{int(high ** 0.5) if high != float('inf') else int(low ** 0.5)} px)"
        share7, share5 = coverage.fraction_at_least(0.7, (low, high)), coverage.fraction_at_least(0.5, (low, high))
        lines.append(f"  {label:<18} {coverage.count((low, high)):>6}  {share7:>7.0%}  {share5:>7.0%}"
                     if coverage.count((low, high)) else f"  {label:<18} {0:>6}        -        -")
    lines.append(f"  {'all':<18} {len(coverage.best_iou):>6}  {coverage.fraction_at_least(0.7):>7.0%}  "
                 f"{coverage.fraction_at_least(0.5):>7.0%}")
    return lines


def class_table(checks: dict) -> list[str]:
    splits = list(checks)
    rows = {}
    for split, check in checks.items():
        for key, count in check.objects_per_category.items():
            rows.setdefault(key, {})[split] = count
    width = max([len(f"{name} ({i})") for i, name in rows] + [len("category (id)")])
    lines = [f"{'category (id)':<{width}}  " + "  ".join(f"{s:>7}" for s in splits)]
    for (i, name), counts in rows.items():
        lines.append(f"{f'{name} ({i})':<{width}}  " + "  ".join(f"{counts.get(s, 0):>7}" for s in splits))
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    checks = {}
    for split in SPLITS:
        paths = split_paths(args, split)
        if paths is not None:
            checks[split] = check_coco(paths[1], paths[0], args.check_images)
    if not checks:
        raise UsageError(f"no annotation file found in {data_name(args)}")
    for split, check in checks.items():
        print(f"{split}: {check.ann_file} (images in {check.image_dir}): {check.images} images, {check.objects} "
              f"objects")
        for line in check.errors:
            print(f"  error: {line}")
        for line in check.warnings:
            print(f"  warning: {line}")
    print("objects per class:")
    for line in class_table(checks):
        print(f"  {line}")
    if "train" in checks and checks["train"].boxes_by_image:
        print("\n".join(coverage_lines(checks["train"], args)))
    errors = sum(len(check.errors) for check in checks.values())
    if "train" not in checks:
        errors += 1
        print("error: no train split")
    if errors:
        print(f"summary: training would fail: {errors} errors above (fix them; images that are missing, unreadable "
              f"or mis-sized can also be left out with train.py --skip-bad-images)")
        return 1
    warnings = sum(len(check.warnings) for check in checks.values())
    print(f"summary: ready to train ({warnings} warnings)")
    return 0


if __name__ == "__main__":
    run(main)
