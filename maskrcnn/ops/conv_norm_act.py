"""Conv2d, optional normalisation, optional activation, as one ``nn.Sequential`` (torchvision's key layout).

A plain container: its forward runs its children in order. The explicit optimisation step
(:func:`maskrcnn.optimize`) may later run a recognised ``[Conv2d, batch norm?, ReLU?]`` as one folded kernel.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import torchvision
from torch import nn

IntOrPair = Union[int, tuple[int, int]]


class Conv2dNormActivation(torchvision.ops.Conv2dNormActivation):
    """``[conv, norm?, activation?]`` with torchvision's arguments and defaults.

    A subclass of torchvision's class for its type alone (built here, run as a plain ``nn.Sequential``), so that
    torchvision's FX feature extraction keeps it one node, as it keeps its own.

    Index 0 is the conv (with a bias only when there is no norm, unless ``bias`` says otherwise), 1 the norm if any,
    then the activation. ``padding`` defaults to "same" for odd kernels: ``(kernel_size - 1) // 2 * dilation``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair = 3, stride: IntOrPair = 1,
                 padding: Optional[Union[IntOrPair, str]] = None, groups: int = 1,
                 norm_layer: Optional[Callable[..., nn.Module]] = nn.BatchNorm2d,
                 activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU, dilation: IntOrPair = 1,
                 inplace: Optional[bool] = True, bias: Optional[bool] = None) -> None:
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                kernel = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
                dilations = (dilation,) * 2 if isinstance(dilation, int) else tuple(dilation)
                padding = tuple((k - 1) // 2 * d for k, d in zip(kernel, dilations))
        if bias is None:
            bias = norm_layer is None
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                             dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
        nn.Sequential.__init__(self, *layers)
        self.out_channels = out_channels
