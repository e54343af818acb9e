"""Loading a detector for evaluation or prediction from any weights file the library knows.

* a checkpoint of ``tools/train.py``: the model is rebuilt from its ``model_config`` and named with its
  ``class_names``;
* a torchvision detector file (a plain ``state_dict``): ``maskrcnn_resnet50_fpn`` (``fasterrcnn_resnet50_fpn`` when
  the file has no mask branch) with the file's class count, named with the COCO categories when it has 91 classes.
"""
from __future__ import annotations

import os

import torch

from ..builders import resnet_fpn_detector
from ..checkpoint import load_state_dict_into, read_checkpoint_file
from ..coco_names import COCO_CATEGORY_NAMES
from ..faster_rcnn import FasterRCNN
from .model_config import ModelConfig, build_model


def load_detector(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[FasterRCNN, list[str]]:
    """``(model in eval mode on device, class names by label)``; :class:`CheckpointError` when the file does not fit.
    """
    path = os.fspath(path)
    data = read_checkpoint_file(path)
    if isinstance(data, dict) and "model_config" in data and "model" in data:
        config = ModelConfig.from_dict(data["model_config"])
        model = build_model(config)
        load_state_dict_into(model, data["model"], path, verbose=False)
        class_names = list(data.get("class_names") or [])
    else:
        has_masks = not isinstance(data, dict) or any(str(k).startswith("roi_heads.mask_") for k in data)
        model = resnet_fpn_detector(weights=path, masks=has_masks)
        class_names = []
    num_classes = model.roi_heads.box_predictor.cls_score.out_features
    if len(class_names) != num_classes:
        class_names = list(COCO_CATEGORY_NAMES) if num_classes == len(COCO_CATEGORY_NAMES) else \
            ["__background__"] + [f"class {i}" for i in range(1, num_classes)]
    return model.eval().to(device), class_names
