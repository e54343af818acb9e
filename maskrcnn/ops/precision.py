"""The opt-in fast mode: heavy layers in 16-bit under autocast, box arithmetic and post-processing in float32.

``with maskrcnn.fast_mode(device):`` wraps inference or a training step. On a CPU with native bfloat16 (AVX-512 BF16
or AMX) convolutions and linear layers run in bfloat16; on CUDA in float16 (train with a ``GradScaler``). The
model casts each head's outputs back to float32 (:func:`full_precision`) before decoding boxes, scoring, pasting masks
or computing losses, because box coordinates in bfloat16 (8 significant bits) would be off by up to 4 px at 1000 px.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Union

import torch
from torch import Tensor

REDUCED_DTYPES = (torch.float16, torch.bfloat16)


def fast_mode_dtype(device: Union[str, torch.device]) -> torch.dtype | None:
    """The autocast dtype fast mode uses on ``device``, or None where it would not be faster."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


def fast_mode(device: Union[str, torch.device] = "cpu", enabled: bool = True) -> contextlib.AbstractContextManager:
    """Autocast to :func:`fast_mode_dtype`; on a device without one, a warning and full precision.
    ``enabled=False`` gives full precision (so callers can write ``with fast_mode(device, args.amp):``)."""
    if not enabled:
        return contextlib.nullcontext()
    device = torch.device(device)
    dtype = fast_mode_dtype(device)
    if dtype is None:
        warnings.warn(f"fast mode: {device} has no fast 16-bit arithmetic (bfloat16 needs AVX-512 BF16 or AMX); "
                      f"running in float32")
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def full_precision(tensor: Tensor) -> Tensor:
    """float32 for a float16/bfloat16 tensor (a head's output under autocast); any other tensor as it is."""
    return tensor.float() if tensor.dtype in REDUCED_DTYPES else tensor
