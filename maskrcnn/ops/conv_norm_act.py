"""Conv2d, optional normalisation, optional activation, as one ``nn.Sequential`` (torchvision's key layout)."""
from __future__ import annotations

from typing import Callable, Optional

from torch import Tensor, nn

from .fused_conv import conv_norm_relu


class ConvNormActivation(nn.Sequential):
    """``[conv, norm?, activation?]``; with a ReLU (or none) it runs as one folded, fused convolution.

    ``residual``, if given, is added before the activation (an FPN's top-down sum rides on its lateral conv).
    """

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        layers = list(self)
        relu = len(layers) > 1 and isinstance(layers[-1], nn.ReLU)
        middle = layers[1:-1] if relu else layers[1:]
        if isinstance(layers[0], nn.Conv2d) and len(middle) <= 1 and not any(isinstance(m, nn.ReLU) for m in middle):
            return conv_norm_relu(x, layers[0], middle[0] if middle else None, relu=relu, residual=residual)
        if residual is None:
            return super().forward(x)
        for layer in layers[:-1] if relu else layers:
            x = layer(x)
        x = x + residual
        return layers[-1](x) if relu else x


def conv_norm_act(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                  padding: Optional[int] = None, dilation: int = 1,
                  norm_layer: Optional[Callable[..., nn.Module]] = None,
                  activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU) -> ConvNormActivation:
    """Index 0 is the conv (with a bias only when there is no norm), 1 the norm if any, then the activation.

    ``padding`` defaults to "same" for odd kernels: ``(kernel_size - 1) // 2 * dilation``.
    """
    if padding is None:
        padding = (kernel_size - 1) // 2 * dilation
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                                         bias=norm_layer is None)]
    if norm_layer is not None:
        layers.append(norm_layer(out_channels))
    if activation_layer is not None:
        layers.append(activation_layer(inplace=True))
    return ConvNormActivation(*layers)
