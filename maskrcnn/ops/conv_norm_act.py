"""Conv2d, optional normalisation, optional activation, as one ``nn.Sequential`` (torchvision's key layout)."""
from __future__ import annotations

from typing import Callable, Optional

from torch import nn


def conv_norm_act(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                  padding: Optional[int] = None, dilation: int = 1,
                  norm_layer: Optional[Callable[..., nn.Module]] = None,
                  activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU) -> nn.Sequential:
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
    return nn.Sequential(*layers)
