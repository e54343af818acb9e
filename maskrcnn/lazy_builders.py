"""torchvision keeps each builder in its model's module (``faster_rcnn.fasterrcnn_resnet50_fpn``); ours live in
:mod:`maskrcnn.builders`, which imports those modules. A module-level ``__getattr__`` (PEP 562) made here looks the
builders up on first use, so both import paths work without an import cycle."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def builder_lookup(module_name: str, names: tuple[str, ...]) -> Callable[[str], Any]:
    """A ``__getattr__`` for module ``module_name`` that serves ``names`` from :mod:`maskrcnn.builders`."""
    def lookup(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module("maskrcnn.builders"), name)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    return lookup
