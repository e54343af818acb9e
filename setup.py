"""Installs the maskrcnn library and its companions (dataset, transforms, visualization)."""
from setuptools import find_packages, setup

setup(
    name="maskrcnn",
    version="0.1.0",
    description="A from-scratch, modular Mask R-CNN in PyTorch, numerically equal to torchvision's",
    python_requires=">=3.9",
    packages=find_packages(include=["maskrcnn", "maskrcnn.*", "dataset", "dataset.*",
                                    "transforms", "transforms.*", "visualization", "visualization.*"]),
    install_requires=[
        # torchvision pins the torch it was built with; installing torchvision from the
        # registry therefore brings a torch whose C++ ops (nms, roi_align) load.
        # Tested with torch 2.14.1 and torchvision 0.29.1. The fast form (maskrcnn.optimize) uses private
        # oneDNN ops, probed at run time: where a torch lacks them it falls back to plain kernels.
        "torch>=2.14,<2.15",
        "torchvision>=0.29,<0.30",
        "pycocotools",
        "numpy",
        "opencv-python",
        "tqdm",
        "tensorboard",
        "pyyaml",  # YOLO datasets' data.yaml (tools/convert.py)
    ],
    extras_require={
        # pytest.ini runs the tests in one process per core; tidecv (TIDE's own package) is what the report's error
        # types are compared with
        "dev": ["pytest", "pytest-xdist", "tidecv"],
        # tools/export.py (ONNX files) and predict.py --weights model.onnx (onnxruntime); see maskrcnn/export/
        "export": ["onnx>=1.16", "onnxruntime>=1.18"],
        # predict.py / eval.py --weights model.onnx|model.xml on OpenVINO, export.py --format openvino; see
        # maskrcnn/export/openvino_runtime.py (export.py needs the export extra too, for the ONNX graph)
        "openvino": ["openvino>=2024.0", "onnx>=1.16"],
        # eval.py --backend faster-coco-eval: COCOeval's figures from its C++ reimplementation
        "fast-eval": ["faster-coco-eval>=1.6"],
        # eval.py --report: its charts (docs/report.md)
        "report": ["matplotlib>=3.5"],
        # .ci/run lints with it before the tests (ruff.toml)
        "lint": ["ruff>=0.6"],
    },
)
