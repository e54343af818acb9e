"""An exported detector run by OpenVINO on the CPU, called like the PyTorch model in eval mode.

``OpenVinoDetector("model.onnx" or "model.xml")([image, ...])`` gives one ``{"boxes", "labels", "scores"[,
"masks"]}`` dict of tensors per image, as :class:`~maskrcnn.export.OnnxDetector` does. OpenVINO reads the ``.onnx``
that :func:`~maskrcnn.export.export_onnx` writes as it is; :func:`convert_to_openvino` writes its own format (IR: an
``.xml`` graph and the ``.bin`` weights beside it), which loads faster. The file's metadata (ONNX ``metadata_props``)
is in OpenVINO's ``rt_info`` under ``framework`` in both.

Everything is OpenVINO's own API: ``convert_model`` / ``save_model`` to write, ``compile_model`` with its hints
(``INFERENCE_PRECISION_HINT``: ``f32``, ``bf16``, or none for its own choice; ``PERFORMANCE_HINT``: ``LATENCY`` for one
image at a time, ``THROUGHPUT`` for many), and an ``AsyncInferQueue`` that keeps its infer requests (one per stream)
busy when a call brings several images.
"""
import os
from typing import Optional, Union

import torch
from torch import Tensor

from .exporter import METADATA_KEYS, ExportError, check_export_format, decode_metadata

#: ``auto``: OpenVINO's choice for the CPU (bfloat16 where the CPU has it natively, else float32).
PRECISIONS = ("auto", "f32", "bf16")


def require_openvino():
    try:
        import openvino
    except ImportError:
        raise ExportError('running or writing an OpenVINO model needs openvino: pip install -e ".[openvino]"') from None
    return openvino


def cpu_description(core) -> str:
    return str(core.get_property("CPU", "FULL_DEVICE_NAME"))


def check_precision(core, precision: str) -> None:
    """ExportError for a precision that is not one of :data:`PRECISIONS`, or bf16 on a CPU without it natively."""
    if precision not in PRECISIONS:
        raise ExportError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        raise ExportError(f"precision bf16: this CPU ({cpu_description(core)}) has no native bfloat16; use f32 or "
                          f"auto")


def openvino_metadata(model) -> dict:
    """The :data:`METADATA_KEYS` values an OpenVINO model carries (from the ONNX file's metadata), decoded."""
    return decode_metadata({key: model.get_rt_info(["framework", key]).astype(str) for key in METADATA_KEYS
                            if model.has_rt_info(["framework", key])})


def weights_file(xml_path: str) -> str:
    """The ``.bin`` OpenVINO reads with an ``.xml``: the same name beside it."""
    return os.path.splitext(xml_path)[0] + ".bin"


def convert_to_openvino(onnx_path: Union[str, os.PathLike], xml_path: Union[str, os.PathLike]) -> None:
    """Writes the ONNX file as OpenVINO IR (``xml_path`` and its ``.bin``), float32 weights (not compressed to
    float16), its metadata kept; both files are written under temporary names and renamed into place."""
    ov = require_openvino()
    xml_path = os.fspath(xml_path)
    model = ov.convert_model(os.fspath(onnx_path))
    stem = os.path.splitext(xml_path)[0]
    ov.save_model(model, f"{stem}.tmp.xml", compress_to_fp16=False)
    os.replace(f"{stem}.tmp.bin", weights_file(xml_path))
    os.replace(f"{stem}.tmp.xml", xml_path)


class OpenVinoDetector:
    """Args:
        path: an ``.onnx`` file written by :func:`maskrcnn.export.export_onnx` (or torchvision's export), or the
            ``.xml`` of one converted by :func:`convert_to_openvino`; one image per graph call (a batch graph is
            refused: OpenVINO 2026.4 corrupts memory in its loop).
        precision: one of :data:`PRECISIONS`; ``self.precision`` is what OpenVINO runs (``f32`` or ``bf16``).
        threads: OpenVINO's inference threads (None: its default, one per core).
        throughput: compile for several images at once (``THROUGHPUT``: ``self.requests`` streams, each image on
            one); else for one image's latency.
    """

    def __init__(self, path: Union[str, os.PathLike], precision: str = "auto", threads: Optional[int] = None,
                 throughput: bool = False) -> None:
        ov = require_openvino()
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise ExportError(f"{self.path}: file not found")
        if self.path.lower().endswith(".xml") and not os.path.isfile(weights_file(self.path)):
            raise ExportError(f"{self.path}: its weights {weights_file(self.path)} are missing (an OpenVINO model is "
                              f"the .xml and the .bin beside it)")
        core = ov.Core()
        check_precision(core, precision)
        try:
            model = core.read_model(self.path)
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ExportError(f"{self.path}: OpenVINO {ov.__version__} cannot read it ({reason})") from None
        self.metadata = openvino_metadata(model)
        check_export_format(self.metadata, self.path)
        if len(model.inputs[0].get_partial_shape()) == 4:
            raise ExportError(f"{self.path} is a batch graph: OpenVINO {ov.__version__} corrupts its memory running "
                              f"the graph's loop over the batch; export the one-image graph (batch=False): OpenVINO's "
                              f"async requests run several images side by side anyway")
        config = {"PERFORMANCE_HINT": "THROUGHPUT" if throughput else "LATENCY"}
        if precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = precision
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = core.compile_model(model, "CPU", config)
        self.precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.cpu = cpu_description(core)
        self.output_names = [output.get_any_name() for output in self.compiled.outputs]
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests)
        self.queue.set_callback(self._keep_outputs)

    def _keep_outputs(self, request, slot: tuple[list, int]) -> None:
        """The queue's callback: copies a finished request's outputs (the request is reused) into its slot."""
        results, index = slot
        results[index] = [request.get_output_tensor(i).data.copy() for i in range(len(self.output_names))]

    def __call__(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        results: list = [None] * len(images)
        for index, image in enumerate(images):  # waits for a free request when all are busy
            self.queue.start_async({0: image.detach().to("cpu", torch.float32).contiguous().numpy()}, (results, index))
        self.queue.wait_all()
        return [{name: torch.from_numpy(value) for name, value in zip(self.output_names, values)}
                for values in results]
