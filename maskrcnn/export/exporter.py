"""ONNX export of a detector: one image in, torchvision's detection tensors out.

The graph is traced from the plain model (``torch.onnx.export(..., dynamo=False)``, the exporter torchvision's own
ONNX tests use), never from :func:`maskrcnn.optimize`'s form. While tracing, the model's code keeps every size a
traced value (the resize, the padding, the anchors, the per-level top-k, box clipping, the mask paste), so one file
takes any image size; NMS is ``torchvision.ops.batched_nms`` (ONNX ``NonMaxSuppression``) and RoIAlign is ONNX
``RoiAlign``.

Contract (torchvision's):

* input ``images``: float32 ``[3, H, W]``, RGB in [0, 1], any H and W;
* outputs ``boxes [N, 4]`` (xyxy, input pixels), ``labels [N]`` int64, ``scores [N]`` and, for Mask R-CNN,
  ``masks [N, 1, H, W]`` probabilities in [0, 1], for Keypoint R-CNN ``keypoints [N, K, 3]`` (x, y, 1 in input
  pixels) and ``keypoints_scores [N, K]`` (heatmap logits); N may be 0.

``batch=True`` writes the batch form instead (:mod:`maskrcnn.export.batch_graph`): ``images [B, 3, H, W]`` of equal-size
images in, the same outputs over the whole batch plus ``batch_index [N]`` out.

The model's settings at export time (``score_thresh``, ``min_size``, ``max_size``, ...) are baked into the graph;
:data:`METADATA_KEYS` name what the file's metadata records of them, and the categories.
"""
import copy
import json
import os
import warnings
from typing import Optional, Union

import torch
from torch import Tensor, nn

from ..optimized.step import deoptimize, optimized_modules

#: The graph needs ONNX ``RoiAlign`` with ``coordinate_transformation_mode`` and ``ScatterElements`` with
#: ``reduction="add"`` (the mask paste): opset 16.
MIN_OPSET = 16
DEFAULT_OPSET = 17
OUTPUT_NAMES = ("boxes", "labels", "scores", "masks")
#: A Keypoint R-CNN's outputs after the boxes, labels and scores.
KEYPOINT_OUTPUT_NAMES = ("keypoints", "keypoints_scores")
#: The batch form's extra output: the image (0..B-1) of each detection.
BATCH_INDEX = "batch_index"
#: Metadata keys of an exported file: JSON values.
METADATA_KEYS = ("categories", "score_thresh", "min_size", "max_size", "masks", "keypoints", "batch", "export_format")
#: The version of the file contract above; a runtime refuses a file that records another (a file without it, from
#: torchvision's export or before this key, is read as it is).
EXPORT_FORMAT = 1
#: The size of the image the graph is traced with; any size works afterwards.
TRACE_SIZE = (480, 640)


class ExportError(ValueError):
    """An export that cannot be done as asked (an opset out of range, a missing package)."""


def output_names(detector: nn.Module) -> list[str]:
    """The exported outputs of ``detector``: boxes, labels, scores, then masks or keypoints where it has them."""
    heads = detector.roi_heads
    return (list(OUTPUT_NAMES[:3]) + (["masks"] if heads.has_mask() else [])
            + (list(KEYPOINT_OUTPUT_NAMES) if heads.has_keypoint() else []))


class DetectorForExport(nn.Module):
    """``image [3, H, W]`` -> the :func:`output_names` tensors of ``detector`` (in eval mode)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.names = output_names(detector)

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        detections = self.detector([image])[0]
        return tuple(detections[name] for name in self.names)


def max_opset() -> int:
    """The newest opset torch's TorchScript-based exporter writes."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", _constants.ONNX_MAX_OPSET))


def check_opset(opset: int) -> None:
    if not MIN_OPSET <= opset <= max_opset():
        reason = ("too old: the graph needs RoiAlign and ScatterElements(reduction=add) of opset 16"
                  if opset < MIN_OPSET else "newer than this torch's exporter writes")
        raise ExportError(f"opset {opset} is {reason}; use an opset from {MIN_OPSET} to {max_opset()} "
                          f"(default {DEFAULT_OPSET})")


def require_onnx():
    """The ``onnx`` module, or an :class:`ExportError` saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ExportError('ONNX export needs the onnx package: pip install -e ".[export]"') from None
    return onnx


def export_metadata(detector: nn.Module, categories: Optional[dict] = None, batch: bool = False) -> dict[str, str]:
    """What an exported file records about the detector it came from (values are JSON)."""
    heads, transform = detector.roi_heads, detector.transform
    values = {"categories": categories or {}, "score_thresh": heads.score_thresh,
              "min_size": transform.min_size[-1], "max_size": transform.max_size, "masks": heads.has_mask(),
              "keypoints": heads.has_keypoint(), "batch": batch, "export_format": EXPORT_FORMAT}
    return {key: json.dumps(values[key]) for key in METADATA_KEYS}


def export_onnx(detector: nn.Module, path: Union[str, os.PathLike], *, opset: int = DEFAULT_OPSET,
                categories: Optional[dict] = None, batch: bool = False,
                trace_size: tuple[int, int] = TRACE_SIZE) -> None:
    """Writes ``detector`` as an ONNX file at ``path`` (an :func:`maskrcnn.optimize`'d model is exported from a plain
    copy); ``batch``: the batch form (see the module docstring).

    ``categories`` (``{"ids": [...], "names": [...]}``, indexed by label) go into the metadata with the settings
    of :data:`METADATA_KEYS`. The model is traced in eval mode on a ``trace_size`` image; the file is written
    atomically (a temporary file renamed into place).
    """
    check_opset(opset)
    onnx = require_onnx()
    if optimized_modules(detector):  # the fast form's blocks are not exportable: export a plain copy
        detector = deoptimize(copy.deepcopy(detector))
    wrapper = DetectorForExport(detector).eval()
    names = wrapper.names
    axes = {"images": {1: "height", 2: "width"}}
    axes.update({name: {0: "detections"} for name in names})
    if "masks" in axes:
        axes["masks"].update({2: "height", 3: "width"})
    parameter = next(detector.parameters())
    generator = torch.Generator().manual_seed(0)
    example = torch.rand((3,) + tuple(trace_size), generator=generator).to(parameter.device)
    path = os.fspath(path)
    temporary = f"{path}.tmp"
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer's notes on sizes turned into constants: those left are constant for any image (the pyramid's
        # scales, the mask's 28 x 28); tests/test_export.py checks the graph at sizes other than the trace's.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), temporary, input_names=["images"], output_names=names,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    model = onnx.load(temporary)
    if batch:
        from .batch_graph import loop_over_batch  # needs onnx, an optional package: imported when used

        model = loop_over_batch(model, BATCH_INDEX)
    for key, value in export_metadata(detector, categories, batch).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, temporary)
    os.replace(temporary, path)


def decode_metadata(properties: dict[str, str]) -> dict:
    """The :data:`METADATA_KEYS` values among a file's metadata properties, decoded; missing keys are absent."""
    return {key: json.loads(value) for key, value in properties.items() if key in METADATA_KEYS}


def check_export_format(metadata: dict, path: str) -> None:
    """ExportError when ``metadata`` (decoded) records another :data:`EXPORT_FORMAT` than this code reads."""
    found = metadata.get("export_format", EXPORT_FORMAT)
    if found != EXPORT_FORMAT:
        raise ExportError(f"{path}: written by another version of the exporter (export format {found}, this one "
                          f"reads {EXPORT_FORMAT}); export it again with this version's tools/export.py")


def read_metadata(path: Union[str, os.PathLike]) -> dict:
    """The :data:`METADATA_KEYS` values of an exported file (decoded); missing keys are absent."""
    onnx = require_onnx()
    model = onnx.load(os.fspath(path), load_external_data=False)
    return decode_metadata({p.key: p.value for p in model.metadata_props})
