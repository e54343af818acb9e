"""Loading a detector for evaluation or prediction from any weights file the library knows.

* a checkpoint of ``tools/train.py``: the model is rebuilt from its ``model_config``; its labels are the dataset's
  ``categories`` (ids and names; older checkpoints have ``class_names`` only: label = id);
* a torchvision detector file (a plain ``state_dict``): ``maskrcnn_resnet50_fpn`` or ``maskrcnn_resnet50_fpn_v2`` by
  its box head (``fasterrcnn_*`` when the file has no mask branch) with the file's class count, named with the COCO
  categories when it has 91 classes.
"""
from __future__ import annotations

import os

import torch

from ..builders import resnet_fpn_detector, state_dict_version
from ..categories import Categories
from ..checkpoint import load_state_dict_into, read_checkpoint_file
from ..faster_rcnn import FasterRCNN
from .model_config import ModelConfig, build_model


def load_detector(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[FasterRCNN, Categories]:
    """``(model in eval mode on device, its categories)``; :class:`CheckpointError` when the file does not fit."""
    path = os.fspath(path)
    data = read_checkpoint_file(path)
    if isinstance(data, dict) and "model_config" in data and "model" in data:
        config = ModelConfig.from_dict(data["model_config"])
        model = build_model(config)
        load_state_dict_into(model, data["model"], path, verbose=False)
        saved = data.get("categories") or {}
        names, ids = saved.get("names") or data.get("class_names") or [], saved.get("ids") or []
    else:
        has_masks = not isinstance(data, dict) or any(str(k).startswith("roi_heads.mask_") for k in data)
        version = (state_dict_version(data) if isinstance(data, dict) else None) or "v1"
        model = resnet_fpn_detector(weights=path, masks=has_masks, version=version)
        names, ids = [], []
    categories = Categories.for_model(model.roi_heads.box_predictor.cls_score.out_features, names, ids)
    return model.eval().to(device), categories
