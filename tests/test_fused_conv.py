"""Folded and fused convolutions give what conv -> norm -> (+ residual) -> ReLU gives, forward and backward."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import maskrcnn
from maskrcnn.ops.fused_conv import conv_norm_relu


def random_norm(kind: str, channels: int, dtype: torch.dtype, generator: torch.Generator) -> nn.Module:
    norm = maskrcnn.FrozenBatchNorm2d(channels) if kind == "frozen" else nn.BatchNorm2d(channels)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
        norm.bias.copy_(torch.randn(channels, generator=generator))
        norm.running_mean.copy_(torch.randn(channels, generator=generator))
        norm.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
    norm.train(kind == "batchnorm-train")
    return norm.to(dtype)


def reference(x, conv, norm, relu, residual):
    out = conv(x)
    if norm is not None:
        out = norm(out)
    if residual is not None:
        out = out + residual
    return torch.relu(out) if relu else out


CASES = [(norm, relu, residual, stride)
         for norm in ("frozen", "batchnorm-eval", "batchnorm-train", None)
         for relu in (True, False) for residual in (True, False) for stride in (1, 2)]


@pytest.mark.parametrize("norm_kind,relu,with_residual,stride", CASES)
def test_float64_forward_and_gradients_equal_unfused(norm_kind, relu, with_residual, stride):
    g = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(6, 8, 3, stride=stride, padding=1, bias=norm_kind is None).double()
    norm = random_norm(norm_kind, 8, torch.float64, g) if norm_kind else None
    x = torch.randn(2, 6, 9, 11, generator=g, dtype=torch.float64, requires_grad=True)
    residual = torch.randn(2, 8, 9 // stride + 9 % stride, 11 // stride + 11 % stride, generator=g,
                           dtype=torch.float64) if with_residual else None
    expected = reference(x, conv, norm, relu, residual)
    grads_expected = torch.autograd.grad(expected.square().sum(), [x, conv.weight])
    got = conv_norm_relu(x, conv, norm, relu=relu, residual=residual)
    grads_got = torch.autograd.grad(got.square().sum(), [x, conv.weight])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_got, grads_expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("norm_kind,relu,with_residual,stride", [c for c in CASES if c[0] != "batchnorm-train"])
def test_float32_inference_fused_kernel_matches_unfused(norm_kind, relu, with_residual, stride):
    g = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(16, 32, 3, stride=stride, padding=1, bias=norm_kind is None)
    norm = random_norm(norm_kind, 32, torch.float32, g) if norm_kind else None
    x = torch.randn(2, 16, 20, 17, generator=g)
    size = (20 // stride + 20 % stride, 17 // stride + 17 % stride)
    residual = torch.randn(2, 32, *size, generator=g) if with_residual else None
    with torch.no_grad():
        expected = reference(x, conv, norm, relu, residual)
        got = conv_norm_relu(x, conv, norm, relu=relu, residual=residual)
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_bfloat16_autocast_is_close_to_float32():
    if maskrcnn.ops.precision.fast_mode_dtype("cpu") is None:
        pytest.skip("this CPU has no native bfloat16")
    g = torch.Generator().manual_seed(2)
    conv = nn.Conv2d(16, 32, 3, padding=1, bias=False)
    norm = random_norm("frozen", 32, torch.float32, g)
    x = torch.randn(1, 16, 24, 24, generator=g)
    with torch.no_grad():
        expected = reference(x, conv, norm, True, None)
        with maskrcnn.fast_mode("cpu"):
            got = conv_norm_relu(x, conv, norm)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, rtol=0.05, atol=0.05)


def test_empty_batch_and_odd_layouts_fall_back():
    conv = nn.Conv2d(4, 4, 3, padding=1)
    with torch.no_grad():
        assert conv_norm_relu(torch.zeros(0, 4, 5, 5), conv).shape == (0, 4, 5, 5)
        x = torch.randn(1, 4, 6, 6).transpose(2, 3)  # neither contiguous layout
        torch.testing.assert_close(conv_norm_relu(x, conv), torch.relu(conv(x)), rtol=1e-5, atol=1e-5)
