"""YOLO / Ultralytics segmentation folders: ``images/`` and ``labels/`` side by side, one ``.txt`` per image.

A label line is ``class x1 y1 x2 y2 ...`` with coordinates normalised to [0, 1]; a line of 5 numbers is a box only
(``class cx cy w h``) and becomes a rectangle (counted). Class names come from ``data.yaml`` (``names`` as a list or
as ``{index: name}``) or from ``classes.txt`` (one per line). ``labels/a/b.txt`` belongs to ``images/a/b.<ext>``. An
image without a label file is a background image, as YOLO has it: it is kept, with no objects, and counted.
"""
from __future__ import annotations

import glob
import os

from ..errors import DatasetError
from ..image_io import IMAGE_EXTENSIONS
from .coco_builder import CocoBuilder


def class_names(folder: str) -> list[str]:
    yaml_path = next((p for p in (os.path.join(folder, "data.yaml"), os.path.join(folder, "dataset.yaml"))
                      if os.path.isfile(p)), None)
    if yaml_path is not None:
        import yaml
        try:
            with open(yaml_path) as f:
                names = (yaml.safe_load(f) or {}).get("names")
        except (OSError, yaml.YAMLError) as error:
            raise DatasetError(f"{yaml_path}: not readable YAML ({error})") from None
        if isinstance(names, dict) and all(isinstance(k, int) for k in names):
            return [str(names[k]) for k in sorted(names)]
        if isinstance(names, list):
            return [str(n) for n in names]
        raise DatasetError(f"{yaml_path}: expected 'names' as a list or as {{index: name}}")
    classes_path = os.path.join(folder, "classes.txt")
    if os.path.isfile(classes_path):
        with open(classes_path) as f:
            return [line.strip() for line in f if line.strip()]
    raise DatasetError(f"{folder}: no data.yaml or classes.txt to name the classes")


def parse_line(line: str, names: list[str], where: str) -> tuple[str, list[float], bool]:
    """``(class name, normalised polygon, box only?)`` of one label line."""
    tokens = line.split()
    try:
        index, values = int(tokens[0]), [float(t) for t in tokens[1:]]
    except ValueError:
        raise DatasetError(f"{where}: expected 'class x1 y1 x2 y2 ...' with numbers, got {line.strip()!r}") from None
    if not 0 <= index < len(names):
        raise DatasetError(f"{where}: class {index} is not among the {len(names)} named classes")
    if len(values) == 4:
        cx, cy, w, h = values
        return names[index], [cx - w / 2, cy - h / 2, cx + w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
                              cx - w / 2, cy + h / 2], True
    return names[index], values, False


def convert_yolo(folder: str) -> CocoBuilder:
    images_dir, labels_dir = os.path.join(folder, "images"), os.path.join(folder, "labels")
    if not os.path.isdir(images_dir) or not os.path.isdir(labels_dir):
        raise DatasetError(f"{folder}: expected images/ and labels/ folders (YOLO layout)")
    names = class_names(folder)
    builder = CocoBuilder()
    images = {os.path.splitext(os.path.relpath(p, images_dir))[0]: p
              for p in sorted(glob.glob(os.path.join(glob.escape(images_dir), "**", "*"), recursive=True))
              if p.lower().endswith(IMAGE_EXTENSIONS)}
    labels = {os.path.splitext(os.path.relpath(p, labels_dir))[0]: p
              for p in sorted(glob.glob(os.path.join(glob.escape(labels_dir), "**", "*.txt"), recursive=True))}
    builder.report.labels_without_image = [os.path.relpath(labels[k], folder) for k in labels if k not in images]
    for key, image_path in images.items():
        index = builder.add_image(image_path)
        if key not in labels:
            builder.report.images_without_labels += 1
            continue
        width, height = builder.size_of(index)
        try:
            with open(labels[key]) as f:
                lines = f.readlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DatasetError(f"{labels[key]}: not a readable label file ({error})") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            name, polygon, box_only = parse_line(line, names, f"{labels[key]}:{number}")
            builder.report.box_only += box_only
            pixels = [v * (width if i % 2 == 0 else height) for i, v in enumerate(polygon)]
            builder.add_object(index, name, [pixels])
    if builder.report.images_without_labels:
        builder.report.notes.append(f"{builder.report.images_without_labels} images have no label file: kept as "
                                    f"images without objects (YOLO's background images)")
    return builder
