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
        "torch",
        "torchvision",
        "pycocotools",
        "numpy",
        "opencv-python",
        "tqdm",
        "tensorboard",
    ],
    extras_require={"dev": ["pytest"]},
)
