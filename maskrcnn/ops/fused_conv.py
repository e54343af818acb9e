"""One convolution with its batch norm folded in and its residual sum and activation (ReLU, or MobileNet's
hard-swish) fused: the same numbers, less traffic.

The arithmetic of the fast form (:mod:`maskrcnn.optimized`); the plain modules never call it.

Folding is exact algebra (results differ from conv-then-norm by float rounding only): a batch norm with fixed
statistics is ``y = x * s + t`` per channel, so ``norm(conv(x, W)) == conv(x, W * s) + t``. It applies to
:class:`FrozenBatchNorm2d` always and to ``nn.BatchNorm2d`` in eval mode; a ``BatchNorm2d`` in training mode
normalises by the batch and runs unfolded. Autograd flows through the folded weight, so training folds too and the
gradients reach ``W`` (and a norm's affine parameters, where they train).

Fusing: on a CPU, when no autograd graph is being recorded, conv + bias + residual sum + activation run as one oneDNN
primitive (``torch.ops.mkldnn._convolution_pointwise``, the kernel ``torch.compile`` emits for CPU), on channels-last
input (a residual sum fuses with ReLU or no activation). Everywhere else they are ``conv2d``, then the sum and the
activation in place on its fresh output. On a CPU the input is
made channels-last in either case: oneDNN's convolutions are faster in that layout and then keep it, so the whole
network runs channels-last from its first convolution (the state_dict and the outputs' values are unchanged).
"""
from __future__ import annotations

import functools
import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .frozen_batch_norm import FrozenBatchNorm2d
from .precision import cpu_has_native_bfloat16

_FUSABLE_DTYPES = (torch.float32, torch.bfloat16)
#: The activations a convolution can carry, by oneDNN's post-op name: the in-place function of the unfused path.
ACTIVATIONS = {"relu": torch.relu_, "hardswish": lambda out: F.hardswish(out, inplace=True)}


def fixed_affine(norm: nn.Module) -> Optional[tuple[Tensor, Tensor]]:
    """``(scale, shift)`` of a norm whose output is ``x * scale + shift`` per channel, or None if it uses the batch."""
    if isinstance(norm, FrozenBatchNorm2d):
        return norm.scale_and_shift()
    if (isinstance(norm, nn.BatchNorm2d) and not norm.training and norm.running_mean is not None
            and norm.running_var is not None):
        scale = (norm.running_var + norm.eps).rsqrt()
        if norm.weight is not None:
            scale = norm.weight * scale
        shift = -norm.running_mean * scale
        if norm.bias is not None:
            shift = norm.bias + shift
        return scale, shift
    return None


def folded_weight_and_bias(conv: nn.Conv2d, affine: Optional[tuple[Tensor, Tensor]], channels_last: bool = False,
                           dtype: Optional[torch.dtype] = None) -> tuple[Tensor, Optional[Tensor]]:
    """``W * scale`` and ``b * scale + shift`` (``shift`` alone for a conv without bias); ``channels_last`` writes the
    weight in that layout in the same pass (oneDNN would otherwise reorder it on every call)."""
    if affine is None:
        weight = conv.weight
        if channels_last and weight.dim() == 4:
            weight = weight.contiguous(memory_format=torch.channels_last)
        return weight, conv.bias
    scale, shift = affine
    if channels_last and conv.weight.dim() == 4 and not torch.is_grad_enabled():
        # one pass writes the folded weight in the layout (and, in fast mode, the dtype) the kernel reads
        weight = torch.empty_like(conv.weight, memory_format=torch.channels_last, dtype=dtype or conv.weight.dtype)
        torch.mul(conv.weight, scale.reshape(-1, 1, 1, 1), out=weight)
    else:
        weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    bias = shift if conv.bias is None else conv.bias * scale + shift
    return weight, bias


def compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype the convolution runs in: autocast's where it is on for this device (it leaves float64 alone), else
    the input's."""
    if torch.is_autocast_enabled(x.device.type) and x.dtype != torch.float64:
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


@functools.cache
def onednn_fusion_works() -> bool:
    """Whether torch's private fused-convolution ops exist here and agree with ``conv2d`` (probed once; a newer or
    older torch may lack them). Where they do not, convolutions run unfused, after one warning."""
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(1, 3, 6, 6, generator=g).contiguous(memory_format=torch.channels_last)
        weight = torch.randn(4, 3, 3, 3, generator=g).contiguous(memory_format=torch.channels_last)
        bias = torch.randn(4, generator=g)
        residual = torch.randn(1, 4, 6, 6, generator=g).contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), torch.autocast("cpu", enabled=False):  # the first call may come under fast mode
            unfused = torch.relu(F.conv2d(x, weight, bias, 1, 1))
            summed = torch.relu(F.conv2d(x, weight, bias, 1, 1) + residual)
            hardswish = F.hardswish(F.conv2d(x, weight, bias, 1, 1))
            works = (torch.allclose(_fused_cpu(x, weight, bias, [1, 1], [1, 1], [1, 1], 1, "relu", None,
                                               torch.float32), unfused, atol=1e-4)
                     and torch.allclose(_fused_cpu(x, weight, bias, [1, 1], [1, 1], [1, 1], 1, "relu", residual,
                                                   torch.float32), summed, atol=1e-4)
                     and torch.allclose(_fused_cpu(x, weight, bias, [1, 1], [1, 1], [1, 1], 1, "hardswish", None,
                                                   torch.float32), hardswish, atol=1e-4))
        problem = "its results differ from conv2d's"
    except Exception as error:  # a missing op, a changed signature, an unsupported CPU: all mean "do not use"
        works, problem = False, f"{type(error).__name__}: {error}"
    if not works:
        warnings.warn(f"maskrcnn.optimize: torch.ops.mkldnn._convolution_pointwise is unusable in torch "
                      f"{torch.__version__} ({problem}); convolutions run folded but unfused")
    return works


def can_fuse(x: Tensor, conv: nn.Conv2d, dtype: torch.dtype) -> bool:
    return (x.device.type == "cpu" and x.dim() == 4 and x.numel() > 0 and dtype in _FUSABLE_DTYPES
            and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and not (torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad))
            and torch.backends.mkldnn.is_available()
            and (dtype != torch.bfloat16 or cpu_has_native_bfloat16())
            and onednn_fusion_works())


def conv_norm_relu(x: Tensor, conv: nn.Conv2d, norm: Optional[nn.Module] = None, relu: bool = True,
                   residual: Optional[Tensor] = None) -> Tensor:
    """``relu(norm(conv(x)) + residual)``, each part optional, folded and fused where possible."""
    return conv_norm_act(x, conv, norm, "relu" if relu else None, residual)


def conv_norm_act(x: Tensor, conv: nn.Conv2d, norm: Optional[nn.Module] = None, activation: Optional[str] = "relu",
                  residual: Optional[Tensor] = None) -> Tensor:
    """``activation(norm(conv(x)) + residual)``, each part optional (``activation``: a key of :data:`ACTIVATIONS`
    or None), folded and fused where possible."""
    act = ACTIVATIONS[activation] if activation is not None else None
    affine = fixed_affine(norm) if norm is not None else None
    if norm is not None and affine is None:  # batch statistics: nothing to fold
        out = norm(conv(x))
        if residual is not None:
            out = out + residual
        return act(out) if act is not None else out
    if x.device.type == "cpu" and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    dtype = compute_dtype(x)
    if can_fuse(x, conv, dtype) and (residual is None or activation in (None, "relu")):
        weight, bias = folded_weight_and_bias(conv, affine, channels_last=True, dtype=dtype)
        return _fused_cpu(x, weight, bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups,
                          activation, residual, dtype)
    weight, bias = folded_weight_and_bias(conv, affine)
    out = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    if residual is not None:
        out = out.add_(residual.to(out.dtype))  # in place on conv's own output: conv's backward does not need it
    return act(out) if act is not None else out


def _fused_cpu(x: Tensor, weight: Tensor, bias: Optional[Tensor], padding: list[int], stride: list[int],
               dilation: list[int], groups: int, activation: Optional[str], residual: Optional[Tensor],
               dtype: torch.dtype) -> Tensor:
    x = x.to(dtype)
    weight = weight.to(dtype)
    bias = bias.to(dtype) if bias is not None else None
    if residual is None:
        return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, padding, stride, dilation, groups,
                                                       activation or "none", [], "")
    residual = residual.to(dtype).contiguous(memory_format=torch.channels_last)
    return torch.ops.mkldnn._convolution_pointwise.binary(x, residual, weight, bias, padding, stride, dilation,
                                                          groups, "add", 1.0, activation, [], None)
