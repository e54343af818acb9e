"""Deployment: the detector as an ONNX file (``exporter``), its batch form (``batch_graph``, needs onnx), the file
run by onnxruntime (``onnx_runtime``) and the check of an exported model against eager PyTorch (``agreement``).
onnx and onnxruntime are optional packages (the ``export`` extra), imported only where they are used."""
from .agreement import Agreement, agreement
from .exporter import (
    BATCH_INDEX,
    DEFAULT_OPSET,
    METADATA_KEYS,
    MIN_OPSET,
    OUTPUT_NAMES,
    TRACE_SIZE,
    DetectorForExport,
    ExportError,
    check_opset,
    decode_metadata,
    export_metadata,
    export_onnx,
    max_opset,
    read_metadata,
    require_onnx,
)
from .onnx_runtime import OnnxDetector, require_onnxruntime

__all__ = ["Agreement", "BATCH_INDEX", "DEFAULT_OPSET", "DetectorForExport", "ExportError", "METADATA_KEYS",
           "MIN_OPSET", "OUTPUT_NAMES", "OnnxDetector", "TRACE_SIZE", "agreement", "check_opset", "decode_metadata",
           "export_metadata", "export_onnx", "max_opset", "read_metadata", "require_onnx", "require_onnxruntime"]
