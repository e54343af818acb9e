"""Deployment: the detector as an ONNX file (``exporter``), its batch form (``batch_graph``, needs onnx), the file
run by onnxruntime (``onnx_runtime``) or by OpenVINO, also in its own IR format (``openvino_runtime``), and the check
of an exported model against eager PyTorch (``agreement``). onnx and onnxruntime (the ``export`` extra) and openvino
(the ``openvino`` extra) are optional packages, imported only where they are used."""
from .agreement import Agreement, agreement
from .exporter import (
    BATCH_INDEX,
    DEFAULT_OPSET,
    EXPORT_FORMAT,
    METADATA_KEYS,
    MIN_OPSET,
    OUTPUT_NAMES,
    TRACE_SIZE,
    DetectorForExport,
    ExportError,
    check_export_format,
    check_opset,
    decode_metadata,
    export_metadata,
    export_onnx,
    max_opset,
    read_metadata,
    require_onnx,
)
from .onnx_runtime import OnnxDetector, require_onnxruntime
from .openvino_runtime import PRECISIONS, OpenVinoDetector, convert_to_openvino, require_openvino

__all__ = ["Agreement", "BATCH_INDEX", "DEFAULT_OPSET", "DetectorForExport", "EXPORT_FORMAT", "ExportError",
           "METADATA_KEYS", "OpenVinoDetector", "PRECISIONS", "check_export_format", "convert_to_openvino",
           "require_openvino",
           "MIN_OPSET", "OUTPUT_NAMES", "OnnxDetector", "TRACE_SIZE", "agreement", "check_opset", "decode_metadata",
           "export_metadata", "export_onnx", "max_opset", "read_metadata", "require_onnx", "require_onnxruntime"]
