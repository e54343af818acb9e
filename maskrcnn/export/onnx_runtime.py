"""An exported detector run by onnxruntime, called like the PyTorch model in eval mode.

``OnnxDetector("model.onnx")([image, ...])`` gives one ``{"boxes", "labels", "scores"[, "masks"]}`` dict of tensors
per image, as ``model.eval()([image, ...])`` does. A one-image graph runs once per image; a batch graph
(:mod:`maskrcnn.export.batch_graph`) once per run of consecutive images of equal size.
"""
import os
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from .exporter import BATCH_INDEX, ExportError, check_export_format, decode_metadata


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
        self.batched = len(self.session.get_inputs()[0].shape) == 4
        # from the session, which has read the file already (and without the onnx package)
        self.metadata = decode_metadata(self.session.get_modelmeta().custom_metadata_map)
        check_export_format(self.metadata, self.path)

    def __call__(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        arrays = [image.detach().to("cpu", torch.float32).contiguous().numpy() for image in images]
        if not self.batched:
            return [self.outputs(self.session.run(self.output_names, {"images": array})) for array in arrays]
        results: list[dict[str, Tensor]] = []
        for run in equal_size_runs(arrays):
            batch = self.outputs(self.session.run(self.output_names, {"images": np.stack(run)}))
            results.extend(split_batch(batch, len(run)))
        return results

    def outputs(self, values: list) -> dict[str, Tensor]:
        return {name: torch.from_numpy(value) for name, value in zip(self.output_names, values)}


def equal_size_runs(arrays: list[np.ndarray]) -> list[list[np.ndarray]]:
    """``arrays`` cut into runs of consecutive arrays of one shape, in order: what one batch-graph call takes."""
    runs: list[list[np.ndarray]] = []
    for array in arrays:
        if runs and runs[-1][0].shape == array.shape:
            runs[-1].append(array)
        else:
            runs.append([array])
    return runs


def split_batch(batch: dict[str, Tensor], count: int) -> list[dict[str, Tensor]]:
    """A batch graph's outputs (with ``batch_index``) as one dict per image of the ``count``."""
    index = batch.pop(BATCH_INDEX)
    return [{name: value[index == i] for name, value in batch.items()} for i in range(count)]

