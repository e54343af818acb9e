"""Check a dataset before training: missing or mis-sized images, duplicate ids, boxes outside their image,
degenerate polygons, categories and images without objects, and a table of objects per class.

    python tools/check_data.py --data datasets/mine
    python tools/check_data.py --train-ann mine_train.json --train-images photos/ --val-ann mine_val.json --val-images photos/

Exit status 1 when training would fail (each error is listed), 0 otherwise (warnings are what training works
around: it clips, drops or skips).
"""
from __future__ import annotations

from typing import Optional

from _common import SPLITS, UsageError, add_data_arguments, data_name, make_parser, run, split_paths
from dataset.check import check_coco


def parse_args(argv: Optional[list[str]]):
    parser = make_parser(__doc__)
    add_data_arguments(parser)
    parser.add_argument("--no-images", dest="check_images", action="store_false",
                        help="check the annotation files only, not the image files")
    return parser.parse_args(argv)


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
