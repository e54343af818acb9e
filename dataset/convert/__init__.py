"""Converting annotations of other tools (LabelMe, YOLO segmentation, instance-id masks) to a COCO instances file."""
from ..coco import write_json_atomically
from .coco_builder import CocoBuilder, ConversionReport, split_indices
from .instance_masks import convert_instance_masks
from .labelme import convert_labelme
from .yolo import convert_yolo

FORMATS = ("labelme", "yolo", "masks")

__all__ = ["CocoBuilder", "ConversionReport", "split_indices", "write_json_atomically", "convert_labelme",
           "convert_yolo", "convert_instance_masks", "FORMATS"]
