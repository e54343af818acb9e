"""Fast mode: the network's convolutions and linear layers in 16-bit, everything geometric in float32.

``with maskrcnn.fast_mode(device):`` wraps inference or a training step (``--fast-mode`` on the tools). On a CPU with
native bfloat16 (AVX-512 BF16 or AMX) it autocasts to bfloat16; on CUDA to float16 (train with a ``GradScaler``).

The one boundary: what a sub-network returns to the detector is cast to float32 where the detector receives it
(:func:`to_float32`, applied by ``RegionProposalNetwork`` to its head's outputs and by ``RoIHeads`` to each
predictor's). So proposal selection, box decoding, scoring, NMS, mask pasting and the losses (and any override of
``filter_proposals``, ``postprocess_detections`` or a loss) see float32 whether fast mode is on or not; box
coordinates in bfloat16 (8 significant bits) would be off by up to 4 px at 1000 px.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Union

import torch
from torch import Tensor

REDUCED_DTYPES = (torch.float16, torch.bfloat16)


@functools.cache
def cpu_has_native_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 natively here; probed once (a private torch op: a missing or failing one means
    no)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError) as error:
        warnings.warn(f"fast mode: could not ask oneDNN about bfloat16 support ({error}); fast mode is off on CPU")
        return False


def fast_mode_dtype(device: Union[str, torch.device]) -> torch.dtype | None:
    """The autocast dtype fast mode uses on ``device``, or None where it would not be faster."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_native_bfloat16():
        return torch.bfloat16
    return None


def fast_mode(device: Union[str, torch.device] = "cpu", enabled: bool = True) -> contextlib.AbstractContextManager:
    """Autocast to :func:`fast_mode_dtype`; on a device without one, a warning and full precision.
    ``enabled=False`` gives full precision (so callers can write ``with fast_mode(device, args.fast_mode):``)."""
    if not enabled:
        return contextlib.nullcontext()
    device = torch.device(device)
    dtype = fast_mode_dtype(device)
    if dtype is None:
        warnings.warn(f"fast mode: {device} has no fast 16-bit arithmetic (bfloat16 needs AVX-512 BF16 or AMX); "
                      f"running in float32")
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def to_float32(tensor: Tensor) -> Tensor:
    """The precision boundary: a float16/bfloat16 tensor (a sub-network's output under fast mode) becomes float32;
    any other tensor passes as it is (float64 stays float64)."""
    return tensor.float() if tensor.dtype == torch.float16 or tensor.dtype == torch.bfloat16 else tensor
