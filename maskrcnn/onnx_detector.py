"""An exported detector run by onnxruntime, called like the PyTorch model in eval mode.

``OnnxDetector("model.onnx")([image, ...])`` gives one ``{"boxes", "labels", "scores"[, "masks"]}`` dict of tensors
per image, as ``model.eval()([image, ...])`` does; the graph takes one image per run (see :mod:`maskrcnn.export`).
"""
import os
from typing import Optional, Union

import torch
from torch import Tensor

from .export import ExportError, read_metadata


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ExportError('running an .onnx model needs onnxruntime: pip install -e ".[export]"') from None
    return onnxruntime


class OnnxDetector:
    """Args:
        path: a file written by :func:`maskrcnn.export.export_onnx` (or torchvision's export: same contract).
        threads: onnxruntime's intra-op threads (None: its default, one per core).
        providers: onnxruntime execution providers (None: the CPU).
    """

    def __init__(self, path: Union[str, os.PathLike], threads: Optional[int] = None,
                 providers: Optional[list[str]] = None) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.path = os.fspath(path)
        self.session = ort.InferenceSession(self.path, options, providers=providers or ["CPUExecutionProvider"])
        self.output_names = [output.name for output in self.session.get_outputs()]
        self.metadata = read_metadata(self.path)

    def __call__(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        results = []
        for image in images:
            array = image.detach().to("cpu", torch.float32).contiguous().numpy()
            outputs = self.session.run(self.output_names, {"images": array})
            results.append({name: torch.from_numpy(value) for name, value in zip(self.output_names, outputs)})
        return results
