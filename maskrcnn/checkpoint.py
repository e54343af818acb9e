"""Reading weight files: torchvision checkpoints (current or older key names) and our training checkpoints.

A file is either a plain ``state_dict`` (what torchvision publishes) or a dict holding one under ``"model"`` (what
``tools/train.py`` writes). Older key names are renamed on load by the modules' ``_load_from_state_dict`` hooks,
driven by the version metadata torch saves with a ``state_dict`` (none means "old").
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from typing import Iterable

import torch
from torch import Tensor, nn

#: SHA-256 prefixes of torchvision's v1 COCO files (``maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth``,
#: ``fasterrcnn_resnet50_fpn_coco-258fb6c6.pth``, ``keypointrcnn_resnet50_fpn_coco-fc266e95.pth``): those models
#: were trained with FrozenBatchNorm eps = 0, which torchvision restores after loading them.
COCO_V1_SHA256_PREFIXES = ("bf2d0c1e", "258fb6c6", "fc266e95")

#: Class-specific layers: they start fresh when a checkpoint's number of classes differs from the model's.
DETECTOR_CLASS_SPECIFIC = ("roi_heads.box_predictor.", "roi_heads.mask_predictor.mask_fcn_logits.")
#: ResNet's ``fc`` and MobileNetV3's last classifier layer.
CLASSIFIER_CLASS_SPECIFIC = ("fc.", "classifier.3.")


class CheckpointError(ValueError):
    """A weights file that cannot be read or does not fit the model."""


def read_checkpoint_file(path: str | os.PathLike):
    """Whatever a weights file holds (tensors and plain data only), with a one-line :class:`CheckpointError` if the
    file is missing or unreadable."""
    if not os.path.isfile(path):
        raise CheckpointError(f"weights file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors alike: the file is not a readable checkpoint
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        detail = detail if len(detail) <= 100 else detail[:97] + "..."
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {detail})") from None


def load_state_dict_file(path: str | os.PathLike) -> OrderedDict[str, Tensor]:
    data = read_checkpoint_file(path)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: expected a state_dict (a mapping of names to tensors) or a dict with one "
                              f"under 'model'")
    return data


def is_coco_v1_file(path: str | os.PathLike) -> bool:
    if any(prefix in os.path.basename(str(path)) for prefix in COCO_V1_SHA256_PREFIXES):
        return True
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest().startswith(COCO_V1_SHA256_PREFIXES)


def set_frozen_batch_norm_eps(model: nn.Module, eps: float) -> None:
    from .ops.frozen_batch_norm import FrozenBatchNorm2d
    for module in model.modules():
        if isinstance(module, FrozenBatchNorm2d):
            module.eps = eps


def _describe(keys: Iterable[str], limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def num_classes_in_state_dict(state_dict: dict[str, Tensor]) -> int | None:
    weight = state_dict.get("roi_heads.box_predictor.cls_score.weight")
    return int(weight.shape[0]) if weight is not None else None


def load_weights(model: nn.Module, path: str | os.PathLike, class_specific: tuple[str, ...] = (),
                 verbose: bool = True) -> list[str]:
    """Loads a checkpoint file into ``model``; see :func:`load_state_dict_into`."""
    return load_state_dict_into(model, load_state_dict_file(path), path, class_specific, verbose)


def load_state_dict_into(model: nn.Module, state_dict: dict[str, Tensor], path: str | os.PathLike,
                         class_specific: tuple[str, ...] = (), verbose: bool = True) -> list[str]:
    """Loads a state_dict read from ``path`` (named in messages) into ``model``; returns the class-specific keys
    left at their fresh values.

    Keys under the ``class_specific`` prefixes whose shapes differ (another number of classes) are skipped and
    reported: the fine-tuning path. Any other difference raises :class:`CheckpointError` naming keys and shapes.
    The state_dict is modified in place.
    """
    own = model.state_dict()
    fresh = [k for k in list(state_dict) if class_specific and k.startswith(class_specific) and k in own
             and state_dict[k].shape != own[k].shape]
    for k in fresh:  # in place: a copy would lose the version metadata that renames older keys
        del state_dict[k]
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:
        mismatches = [line.strip() for line in str(error).splitlines() if "size mismatch" in line]
        raise CheckpointError(f"{path} does not fit the model: " + ("; ".join(mismatches) or str(error))) from None
    missing = [k for k in result.missing_keys if k not in fresh]
    if missing or result.unexpected_keys:
        parts = []
        if missing:
            parts.append(f"missing keys: {_describe(missing)}")
        if result.unexpected_keys:
            parts.append(f"unexpected keys: {_describe(result.unexpected_keys)}")
        raise CheckpointError(f"{path} does not fit the model ({'; '.join(parts)})")
    if fresh and verbose:
        print(f"Loaded {path}; the number of classes differs, so these layers start fresh: {_describe(fresh)}")
    return fresh
