"""Convert LabelMe, YOLO segmentation or instance-mask folders to a COCO instances file that train.py reads.

    python tools/convert.py labelme photos/ datasets/mine/instances.json --val-fraction 0.2
    python tools/convert.py yolo my_yolo_set/ datasets/mine/instances.json
    python tools/convert.py masks PennFudanPed/ datasets/pennfudan/instances.json --class-name pedestrian

Formats:
  labelme  a folder of LabelMe JSON files (polygon, rectangle, circle and mask shapes; group_id joins shapes into
           one object; imagePath relative to the JSON)
  yolo     images/ + labels/*.txt (class x1 y1 x2 y2 ... normalised; a 'class cx cy w h' line is a box and becomes a
           rectangle), class names from data.yaml or classes.txt
  masks    PNGImages/ + PedMasks/ (PennFudan) or images/ + masks/: each non-zero value of a mask is one object

The file's categories have ids from 1 in name order, with the source's names; file_name is relative to the image
folder, which is printed with the train.py command to run. With --val-fraction, OUT_train.json and OUT_val.json are
written instead (the same split for the same --seed). A file is written under a temporary name, then renamed.
"""
from __future__ import annotations

from typing import Optional

from dataset.convert import (
    FORMATS,
    convert_instance_masks,
    convert_labelme,
    convert_yolo,
    split_indices,
    write_json_atomically,
)

from _common import UsageError, make_parser, run


def parse_args(argv: Optional[list[str]]):
    parser = make_parser(__doc__)
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("source", help="the folder to convert")
    parser.add_argument("out", help="the COCO instances JSON to write")
    parser.add_argument("--val-fraction", type=float, default=0.0,
                        help="put this fraction of the images in a val file (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split (default: 0)")
    parser.add_argument("--class-name", default="object", help="the class of every object (masks format)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if not args.out.endswith(".json"):
        raise UsageError(f"{args.out}: the output file should end in .json")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.format == "labelme":
        builder = convert_labelme(args.source)
    elif args.format == "yolo":
        builder = convert_yolo(args.source)
    else:
        builder = convert_instance_masks(args.source, args.class_name)
    report = builder.finish_report()
    image_root = builder.image_root()
    names = builder.category_names()
    if args.val_fraction > 0:
        train, val = split_indices(len(builder), args.val_fraction, args.seed)
        stem = args.out[:-len(".json")]
        outputs = {"train": (f"{stem}_train.json", train), "val": (f"{stem}_val.json", val)}
    else:
        outputs = {"train": (args.out, None)}
    for path, indices in outputs.values():
        write_json_atomically(path, builder.to_coco(indices))
    written = ", ".join(f"{path} ({len(indices) if indices is not None else len(builder)} images)"
                        for path, indices in outputs.values())
    print(f"wrote {written}: {len(names)} categories ({', '.join(names)})")
    for line in report.lines():
        print(f"  {line}")
    print(f"images: {image_root} (file_name is relative to it)")
    command = f"python tools/train.py --train-ann {outputs['train'][0]} --train-images {image_root}"
    if "val" in outputs:
        command += f" --val-ann {outputs['val'][0]} --val-images {image_root}"
    print(f"train with: {command}")
    return 0


if __name__ == "__main__":
    run(main)
