"""Predictors: images in (RGB ``uint8`` arrays ``[H, W, 3]``), detections on the CPU out, with the model's categories.

One interface for both back ends: :class:`TorchPredictor` runs a checkpoint or torchvision's weights (the fast form
of :func:`maskrcnn.optimize`, optionally tiled or in fast mode); :class:`OnnxPredictor` runs a file written by
``tools/export.py`` with onnxruntime. :func:`open_predictor` picks by the weights. ``predictor(images)`` returns per
image ``boxes``, ``labels``, ``scores`` (and ``masks``) with scores above ``score_thresh``.
"""
from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor
from torchvision.models import WeightsEnum

from dataset import image_to_tensor
from dataset.categories import Categories

from ..checkpoint import CheckpointError
from ..export import ExportError, OnnxDetector
from ..ops.precision import fast_mode
from ..optimized import optimize
from .loading import load_detector
from .tiling import predict_tiled

Outputs = list[dict[str, Tensor]]


class ScoreThreshBelowExport(ExportError):
    """A score threshold below the one baked into an exported graph (it cannot return what it dropped)."""

    def __init__(self, path: str, requested: float, exported: float) -> None:
        self.path, self.requested, self.exported = path, requested, exported
        super().__init__(f"score_thresh {requested}: {path} was exported with score > {exported} baked in; export "
                         f"it again with a threshold of {requested} or lower")


class Predictor:
    """What both back ends share: the categories, and the call."""

    categories: Categories

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.categories.names

    def __call__(self, images: list[np.ndarray]) -> Outputs:
        raise NotImplementedError


class TorchPredictor(Predictor):
    """A PyTorch detector in its fast form. ``weights``: anything :func:`load_detector` reads. ``score_thresh``
    becomes the model's box threshold (masks are pasted for kept boxes only); ``tile`` (pixels) runs large images
    window by window at their own resolution (:func:`maskrcnn.engine.tiling.predict_tiled`), ``batch_size`` windows at a
    time; ``fast_mode``: :func:`maskrcnn.fast_mode`."""

    def __init__(self, weights: Union[str, os.PathLike, WeightsEnum], device: Union[str, torch.device] = "cpu",
                 score_thresh: float = 0.05, fast: bool = False, tile: Optional[int] = None, tile_overlap: int = 0,
                 batch_size: int = 1) -> None:
        self.device = torch.device(device)
        self.model, self.categories = load_detector(weights, self.device)
        self.model.roi_heads.score_thresh = score_thresh
        optimize(self.model)
        self.fast, self.tile, self.tile_overlap, self.batch_size = fast, tile, tile_overlap, batch_size

    def __call__(self, images: list[np.ndarray]) -> Outputs:
        tensors = [image_to_tensor(image).to(self.device) for image in images]
        with torch.inference_mode(), fast_mode(self.device, self.fast):
            if self.tile is not None:
                return [predict_tiled(self.model, tensor, self.tile, self.tile_overlap, batch_size=self.batch_size)
                        for tensor in tensors]
            return [{k: v.cpu() for k, v in output.items()} for output in self.model(tensors)]


class OnnxPredictor(Predictor):
    """An exported ``.onnx`` file run by onnxruntime (:class:`maskrcnn.export.OnnxDetector`), with the same
    outputs as the PyTorch model; ``score_thresh`` may only raise the threshold baked in at export."""

    def __init__(self, path: Union[str, os.PathLike], score_thresh: float = 0.05,
                 threads: Optional[int] = None) -> None:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise CheckpointError(f"weights file not found: {path}")
        self.model = OnnxDetector(path, threads=threads or torch.get_num_threads())
        saved = self.model.metadata.get("categories") or {}
        self.categories = (Categories.for_model(len(saved["names"]), saved["names"], saved.get("ids", ()))
                           if saved.get("names") else Categories.coco())
        exported = self.model.metadata.get("score_thresh")
        if exported is not None and score_thresh < exported:
            raise ScoreThreshBelowExport(path, score_thresh, exported)
        self.score_thresh = score_thresh

    def __call__(self, images: list[np.ndarray]) -> Outputs:
        outputs = self.model([image_to_tensor(image) for image in images])
        return [{k: v[output["scores"] > self.score_thresh] for k, v in output.items()} for output in outputs]


def is_onnx(weights: Union[str, os.PathLike, WeightsEnum, None]) -> bool:
    return isinstance(weights, (str, os.PathLike)) and os.fspath(weights).lower().endswith(".onnx")


def open_predictor(weights: Union[str, os.PathLike, WeightsEnum], device: Union[str, torch.device] = "cpu",
                   score_thresh: float = 0.05, **options) -> Predictor:
    """:class:`OnnxPredictor` for an ``.onnx`` file, else :class:`TorchPredictor` (``options``: its keyword
    arguments)."""
    if is_onnx(weights):
        return OnnxPredictor(weights, score_thresh)
    return TorchPredictor(weights, device, score_thresh, **options)
