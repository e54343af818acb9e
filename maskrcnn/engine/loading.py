"""Loading a detector for evaluation or prediction from any weights file the library knows.

* a checkpoint of ``tools/train.py``: the model is rebuilt from its ``model_config``; its labels are the dataset's
  ``categories`` (ids and names; older checkpoints have ``class_names`` only: label = id);
* a torchvision detector file (a plain ``state_dict``): ``maskrcnn_resnet50_fpn`` or ``maskrcnn_resnet50_fpn_v2`` by
  its box head (``fasterrcnn_*`` when the file has no mask branch) with the file's class count, named with the COCO
  categories when it has 91 classes;
* torchvision's published weights: an enum, ``"DEFAULT"`` / ``"COCO_V1"`` (``maskrcnn_resnet50_fpn``'s) or
  ``"ClassName.MEMBER"`` (``"FasterRCNN_MobileNet_V3_Large_FPN_Weights.DEFAULT"``): read through torch.hub's cache
  (downloaded once) and named with the weights' own categories.
"""
from __future__ import annotations

import os
from typing import Optional, Union

import torch
from torchvision.models import WeightsEnum
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

from dataset.categories import Categories
from dataset.keypoints import COCO_PERSON_SKELETON

from ..builders import BUILDER_FOR_WEIGHTS, fpn_detector, state_dict_version
from ..checkpoint import CheckpointError, load_state_dict_into, read_checkpoint_file
from ..faster_rcnn import FasterRCNN
from ..weights import find_weights, weights_member
from .model_config import ModelConfig, build_model

#: What ``"DEFAULT"`` / ``"COCO_V1"`` alone name: the detector the tools build by default.
DEFAULT_DETECTOR_WEIGHTS = MaskRCNN_ResNet50_FPN_Weights


def published_weights(weights: Union[str, os.PathLike, WeightsEnum]) -> Optional[WeightsEnum]:
    """torchvision's detector weights that ``weights`` names (an enum, ``"DEFAULT"``, ``"COCO_V1"``,
    ``"ClassName.MEMBER"``), or None for a file path."""
    if isinstance(weights, WeightsEnum):
        return weights
    if isinstance(weights, os.PathLike) or os.path.exists(weights):
        return None
    return weights_member(weights, DEFAULT_DETECTOR_WEIGHTS) or find_weights(weights)


def load_published(weights: WeightsEnum) -> FasterRCNN:
    """torchvision's detector for ``weights``, built by our builder of the same name, with the weights loaded."""
    builder = BUILDER_FOR_WEIGHTS.get(type(weights))
    if builder is None:
        raise CheckpointError(f"{weights}: not a Faster or Mask R-CNN this library builds (one of "
                              f"{', '.join(cls.__name__ for cls in BUILDER_FOR_WEIGHTS)})")
    return builder(weights=weights)


def load_detector(path: Union[str, os.PathLike, WeightsEnum],
                  device: torch.device | str = "cpu") -> tuple[FasterRCNN, Categories]:
    """``(model in eval mode on device, its categories)`` for a checkpoint file or torchvision's published weights;
    :class:`CheckpointError` when the file does not fit or the weights cannot be had."""
    published = published_weights(path)
    if published is not None:
        model = load_published(published)
        names, keypoints = published.meta["categories"], published.meta.get("keypoint_names", ())
        categories = Categories.for_model(model.roi_heads.box_predictor.cls_score.out_features, names,
                                          keypoints=keypoints, skeleton=COCO_PERSON_SKELETON if keypoints else ())
        return model.eval().to(device), categories
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"weights file not found: {path} (expected a checkpoint file, or torchvision's weights: "
                              f"DEFAULT, COCO_V1 or a name like MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT)")
    data = read_checkpoint_file(path)
    if isinstance(data, dict) and "model_config" in data and "model" in data:
        config = ModelConfig.from_dict(data["model_config"])
        model = build_model(config)
        load_state_dict_into(model, data["model"], path, verbose=False)
        saved = dict(data.get("categories") or {})
        saved["names"] = saved.get("names") or data.get("class_names") or []
    else:
        has_masks = not isinstance(data, dict) or any(str(k).startswith("roi_heads.mask_") for k in data)
        has_keypoints = isinstance(data, dict) and any(str(k).startswith("roi_heads.keypoint_") for k in data)
        version = (state_dict_version(data) if isinstance(data, dict) else None) or "v1"
        model = fpn_detector(weights=path, masks=has_masks and not has_keypoints, keypoints=has_keypoints,
                             version=version)
        saved = {}
    categories = Categories.from_saved(model.roi_heads.box_predictor.cls_score.out_features, saved)
    return model.eval().to(device), categories
