"""Predictors: images in (RGB ``uint8`` arrays ``[H, W, 3]``), detections on the CPU out, with the model's categories.

One interface for every back end: :class:`TorchPredictor` runs a checkpoint or torchvision's weights (the fast form
of :func:`maskrcnn.optimize`, optionally tiled or in fast mode); :class:`OnnxPredictor` runs a file written by
``tools/export.py`` with onnxruntime, :class:`OpenVinoPredictor` an ``.onnx`` or ``.xml`` with OpenVINO.
:func:`open_predictor` picks by the weights. ``predictor(images)`` returns per
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
from ..export import ExportError, OnnxDetector, OpenVinoDetector
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
    """What every back end shares: the categories, and the call. ``batch_hint``: how many images a call should
    bring to keep the machine busy (OpenVINO's async requests run them side by side)."""

    categories: Categories
    batch_hint: int = 1

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


class ExportedPredictor(Predictor):
    """An exported file run by a runtime (``self.model``: :class:`~maskrcnn.export.OnnxDetector` or
    :class:`~maskrcnn.export.OpenVinoDetector`), with the same outputs as the PyTorch model; ``score_thresh`` may
    only raise the threshold baked in at export. The categories come from the file's metadata (COCO's without)."""

    runtime: str

    def __init__(self, model, path: str, score_thresh: Optional[float]) -> None:
        self.model = model
        saved = self.model.metadata.get("categories") or {}
        self.categories = (Categories.from_saved(len(saved["names"]), saved) if saved.get("names")
                           else Categories.coco())
        exported = self.model.metadata.get("score_thresh")
        if score_thresh is None:  # the threshold baked in
            score_thresh = exported if exported is not None else 0.0
        if exported is not None and score_thresh < exported:
            raise ScoreThreshBelowExport(path, score_thresh, exported)
        self.score_thresh = score_thresh

    def __call__(self, images: list[np.ndarray]) -> Outputs:
        outputs = self.model([image_to_tensor(image) for image in images])
        return [{k: v[output["scores"] > self.score_thresh] for k, v in output.items()} for output in outputs]


def existing_file(path: Union[str, os.PathLike]) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"weights file not found: {path}")
    return path


class OnnxPredictor(ExportedPredictor):
    """An ``.onnx`` file run by onnxruntime (:class:`maskrcnn.export.OnnxDetector`)."""

    runtime = "onnxruntime"

    def __init__(self, path: Union[str, os.PathLike], score_thresh: Optional[float] = 0.05,
                 threads: Optional[int] = None) -> None:
        path = existing_file(path)
        super().__init__(OnnxDetector(path, threads=threads or torch.get_num_threads()), path, score_thresh)


class OpenVinoPredictor(ExportedPredictor):
    """An ``.onnx`` or OpenVINO ``.xml`` file run by OpenVINO (:class:`maskrcnn.export.OpenVinoDetector`) at
    ``precision``; ``throughput``: compiled for several images per call, which its async requests run side by side
    (``batch_hint`` of them)."""

    runtime = "openvino"

    def __init__(self, path: Union[str, os.PathLike], score_thresh: Optional[float] = 0.05, precision: str = "auto",
                 threads: Optional[int] = None, throughput: bool = False) -> None:
        path = existing_file(path)
        super().__init__(OpenVinoDetector(path, precision, threads, throughput), path, score_thresh)
        self.batch_hint = self.model.requests if throughput else 1


#: What ``runtime=`` takes for an exported file; ``None`` is the first of these that is installed.
RUNTIMES = ("openvino", "onnxruntime")
#: The file names an exported model has: ONNX (either runtime) and OpenVINO's IR (OpenVINO only).
EXPORTED_SUFFIXES = (".onnx", ".xml")


def installed_runtime() -> Optional[str]:
    """The first of :data:`RUNTIMES` that imports, else None."""
    import importlib.util
    return next((name for name in RUNTIMES if importlib.util.find_spec(name) is not None), None)


def runtime_for(path: str, runtime: Optional[str]) -> str:
    """The runtime that runs ``path``: ``runtime`` if given, else OpenVINO for ``.xml`` and the installed one for
    ``.onnx``; an ExportError when it cannot (an ``.xml`` for onnxruntime, none installed)."""
    if runtime is not None and runtime not in RUNTIMES:
        raise ExportError(f"runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    if path.lower().endswith(".xml"):
        if runtime == "onnxruntime":
            raise ExportError(f"{path} is an OpenVINO model: it runs with runtime openvino")
        return "openvino"
    chosen = runtime or installed_runtime()
    if chosen is None:
        raise ExportError('running an .onnx model needs OpenVINO or onnxruntime: pip install -e ".[openvino]" '
                          '(or ".[export]")')
    return chosen


def is_exported(weights: Union[str, os.PathLike, WeightsEnum, None]) -> bool:
    """An exported model's file name (:data:`EXPORTED_SUFFIXES`), not a PyTorch checkpoint."""
    return isinstance(weights, (str, os.PathLike)) and os.fspath(weights).lower().endswith(EXPORTED_SUFFIXES)


def open_exported(path: Union[str, os.PathLike], score_thresh: Optional[float] = 0.05, runtime: Optional[str] = None,
                  precision: str = "auto", throughput: bool = False) -> ExportedPredictor:
    """The predictor of an exported file, run by ``runtime`` (:func:`runtime_for`), keeping scores above
    ``score_thresh`` (None: the one baked in at export); ``precision`` and ``throughput`` are OpenVINO's (onnxruntime runs float32: another precision is an ExportError)."""
    path = os.fspath(path)
    chosen = runtime_for(path, runtime)
    if chosen == "openvino":
        return OpenVinoPredictor(path, score_thresh, precision, throughput=throughput)
    if precision not in ("auto", "f32"):
        raise ExportError(f"precision {precision}: onnxruntime runs float32 here; use runtime openvino for {precision}")
    return OnnxPredictor(path, score_thresh)


def open_predictor(weights: Union[str, os.PathLike, WeightsEnum], device: Union[str, torch.device] = "cpu",
                   score_thresh: float = 0.05, **options) -> Predictor:
    """:func:`open_exported` for an exported file (``options``: its keyword arguments), else
    :class:`TorchPredictor` (``options``: its keyword arguments)."""
    if is_exported(weights):
        return open_exported(weights, score_thresh, **options)
    return TorchPredictor(weights, device, score_thresh, **options)
