"""Write a LabelMe folder from the built-in shapes set: an own-data example that needs no download.

    python tools/make_labelme_example.py datasets/labelme-shapes --num 300

Writes <out>/images/*.jpg and <out>/labels/*.json (LabelMe 5 format: polygon shapes for whole objects, mask shapes
for occluded ones), as a LabelMe user's folder looks. Then follow "Train on your own data" in docs/data.md.
"""
from __future__ import annotations

import os
from typing import Optional

from dataset import coco2017_paths, ensure_shapes_dataset
from dataset.convert.labelme import write_labelme_folder

from _common import DEFAULT_DATA_ROOTS, UsageError, make_parser, run


def main(argv: Optional[list[str]] = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("out", help="the folder to write")
    parser.add_argument("--num", type=int, default=300, help="images to write (default: %(default)s)")
    parser.add_argument("--data-root", default=DEFAULT_DATA_ROOTS["shapes"],
                        help="the built-in set's folder (generated there if absent; default: %(default)s)")
    args = parser.parse_args(argv)
    if args.num < 1:
        raise UsageError(f"--num must be at least 1, got {args.num}")
    if os.path.exists(os.path.join(args.out, "labels")):
        raise UsageError(f"{args.out} already holds labels/: choose another folder")
    image_dir, ann_file = coco2017_paths(ensure_shapes_dataset(args.data_root), "train")
    written = write_labelme_folder(ann_file, image_dir, args.out, limit=args.num)
    print(f"wrote {written} images and their LabelMe files to {args.out}/images and {args.out}/labels")
    return 0


if __name__ == "__main__":
    run(main)
