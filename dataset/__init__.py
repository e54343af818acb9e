"""Data: COCO-format instance segmentation and keypoints (COCO-2017 or the built-in synthetic shapes and arrows),
batching, and the generators of the built-in datasets.
"""
from .arrows import ensure_arrows_dataset, generate_arrows_dataset
from .coco import (
    COCO_DOWNLOAD_HINT,
    AnnotationReport,
    CocoInstanceDataset,
    class_names_of,
    coco2017_paths,
    load_coco,
    load_coco_dict,
    read_json,
    write_json_atomically,
)
from .coco_masks import mask_to_polygons, mask_to_rle, segmentation_to_mask, segmentation_to_rle
from .collate import collate_fn
from .errors import DatasetError
from .grouped_batch_sampler import GroupedBatchSampler, aspect_ratio_groups
from .image_io import image_to_tensor, read_rgb
from .layout import find_split
from .shapes import CATEGORIES as SHAPES_CATEGORIES
from .shapes import ShapesConfig, ensure_shapes_dataset, generate_shapes_dataset

__all__ = ["CocoInstanceDataset", "AnnotationReport", "DatasetError", "COCO_DOWNLOAD_HINT", "coco2017_paths",
           "load_coco", "load_coco_dict", "read_json", "write_json_atomically", "class_names_of", "segmentation_to_mask", "segmentation_to_rle", "mask_to_rle", "mask_to_polygons", "collate_fn",
           "GroupedBatchSampler", "aspect_ratio_groups", "read_rgb", "image_to_tensor", "find_split",
           "SHAPES_CATEGORIES", "ShapesConfig", "generate_shapes_dataset", "ensure_shapes_dataset",
           "generate_arrows_dataset", "ensure_arrows_dataset"]
