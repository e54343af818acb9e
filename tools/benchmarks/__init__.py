"""The workloads of ``tools/benchmark.py``, one module each: ``model`` (Mask R-CNN, ours vs torchvision),
``mobilenet``, ``predict`` (folder throughput), ``tiling``, ``export`` (ONNX); ``timing`` (medians)."""
