"""MobileNetV3 (Howard et al. 2019): inverted residual blocks with squeeze-and-excitation and hard-swish.

Module tree and parameter names equal torchvision's (``features.<i>.block.<j>``, ``avgpool``, ``classifier``), so
its ImageNet checkpoints load as they are; weight initialisation draws from the RNG in torchvision's order. A block
that halves the resolution is marked ``_is_cn``: the detection extractor cuts its stages there.
"""

from functools import partial
from typing import Callable, Optional

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import MobileNet_V3_Large_Weights, MobileNet_V3_Small_Weights

from ..checkpoint import CLASSIFIER_CLASS_SPECIFIC
from ..ops.conv_norm_act import Conv2dNormActivation
from ..weights import (
    BACKBONE_WEIGHTS,
    WeightsArg,
    legacy_interface,
    load_resolved,
    overwrite_num_classes,
    resolve_weights,
)

NormLayer = Callable[..., nn.Module]

#: Channel counts are rounded to multiples of this (the reference TensorFlow implementation's rule).
CHANNEL_DIVISOR = 8


def make_divisible(value: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), never more than 10 % below."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcitation(torchvision.ops.SqueezeExcitation):
    """Squeeze-and-excitation (Hu et al. 2018): ``x * scale_activation(fc2(activation(fc1(avgpool(x)))))``, the
    fully connected layers as 1x1 convolutions. A subclass of torchvision's ``ops.SqueezeExcitation`` for its type
    alone (our code builds and runs it), so that its FX feature extraction keeps it one node, as it keeps its own."""

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: Callable[..., nn.Module] = nn.ReLU,
                 scale_activation: Callable[..., nn.Module] = nn.Sigmoid) -> None:
        nn.Module.__init__(self)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, x: Tensor) -> Tensor:
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    def forward(self, x: Tensor) -> Tensor:
        return self._scale(x) * x


class InvertedResidualConfig:
    """One row of the paper's Tables 1 and 2; channel counts scaled by ``width_mult`` and made divisible by 8."""

    def __init__(self, input_channels: int, kernel: int, expanded_channels: int, out_channels: int, use_se: bool,
                 activation: str, stride: int, dilation: int, width_mult: float) -> None:
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"  # "HS": hard-swish, "RE": ReLU
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels: int, width_mult: float) -> int:
        return make_divisible(channels * width_mult)


class InvertedResidual(nn.Module):
    """1x1 expansion (unless the width stays), depthwise kxk, squeeze-and-excitation (optional), 1x1 projection
    without activation; the input is added when the shape is kept."""

    def __init__(self, cnf: InvertedResidualConfig, norm_layer: NormLayer,
                 se_layer: Callable[..., nn.Module] = partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)
                 ) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers: list[nn.Module] = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=activation_layer))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.expanded_channels, kernel_size=cnf.kernel,
                                           stride=1 if cnf.dilation > 1 else cnf.stride, dilation=cnf.dilation,
                                           groups=cnf.expanded_channels, norm_layer=norm_layer,
                                           activation_layer=activation_layer))
        if cnf.use_se:
            layers.append(se_layer(cnf.expanded_channels, make_divisible(cnf.expanded_channels // 4)))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, x: Tensor) -> Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result


class MobileNetV3(nn.Module):
    """Stem (3x3 stride 2, hard-swish), the inverted residual blocks, a 1x1 conv to 6x the last width (all in
    ``features``), global average pool and a two-layer classifier. Default norm: batch norm with eps 1e-3 and
    momentum 0.01 (the paper's TensorFlow values)."""

    def __init__(self, inverted_residual_setting: list[InvertedResidualConfig], last_channel: int,
                 num_classes: int = 1000, block: Optional[Callable[..., nn.Module]] = None,
                 norm_layer: Optional[NormLayer] = None, dropout: float = 0.2) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, InvertedResidualConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[InvertedResidualConfig]")
        block = block or InvertedResidual
        norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers: list[nn.Module] = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels, kernel_size=3,
                                                        stride=2, norm_layer=norm_layer,
                                                        activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in inverted_residual_setting]
        last_conv_input = inverted_residual_setting[-1].out_channels
        last_conv_output = 6 * last_conv_input
        layers.append(Conv2dNormActivation(last_conv_input, last_conv_output, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last_conv_output, last_channel), nn.Hardswish(inplace=True),
                                        nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_config(arch: str, width_mult: float = 1.0, reduced_tail: bool = False, dilated: bool = False
                        ) -> tuple[list[InvertedResidualConfig], int]:
    """The block settings and classifier width of ``"mobilenet_v3_large"`` or ``"mobilenet_v3_small"``.
    ``reduced_tail`` halves the channels of the last stage; ``dilated`` trades its stride for dilation 2."""
    reduce = 2 if reduced_tail else 1
    dilation = 2 if dilated else 1
    row = partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        setting = [  # input, kernel, expanded, output, SE, activation, stride, dilation
            row(16, 3, 16, 16, False, "RE", 1, 1),
            row(16, 3, 64, 24, False, "RE", 2, 1),  # C1
            row(24, 3, 72, 24, False, "RE", 1, 1),
            row(24, 5, 72, 40, True, "RE", 2, 1),  # C2
            row(40, 5, 120, 40, True, "RE", 1, 1),
            row(40, 5, 120, 40, True, "RE", 1, 1),
            row(40, 3, 240, 80, False, "HS", 2, 1),  # C3
            row(80, 3, 200, 80, False, "HS", 1, 1),
            row(80, 3, 184, 80, False, "HS", 1, 1),
            row(80, 3, 184, 80, False, "HS", 1, 1),
            row(80, 3, 480, 112, True, "HS", 1, 1),
            row(112, 3, 672, 112, True, "HS", 1, 1),
            row(112, 5, 672, 160 // reduce, True, "HS", 2, dilation),  # C4
            row(160 // reduce, 5, 960 // reduce, 160 // reduce, True, "HS", 1, dilation),
            row(160 // reduce, 5, 960 // reduce, 160 // reduce, True, "HS", 1, dilation),
        ]
        last_channel = 1280 // reduce  # C5
    elif arch == "mobilenet_v3_small":
        setting = [
            row(16, 3, 16, 16, True, "RE", 2, 1),  # C1
            row(16, 3, 72, 24, False, "RE", 2, 1),  # C2
            row(24, 3, 88, 24, False, "RE", 1, 1),
            row(24, 5, 96, 40, True, "HS", 2, 1),  # C3
            row(40, 5, 240, 40, True, "HS", 1, 1),
            row(40, 5, 240, 40, True, "HS", 1, 1),
            row(40, 5, 120, 48, True, "HS", 1, 1),
            row(48, 5, 144, 48, True, "HS", 1, 1),
            row(48, 5, 288, 96 // reduce, True, "HS", 2, dilation),  # C4
            row(96 // reduce, 5, 576 // reduce, 96 // reduce, True, "HS", 1, dilation),
            row(96 // reduce, 5, 576 // reduce, 96 // reduce, True, "HS", 1, dilation),
        ]
        last_channel = 1024 // reduce  # C5
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return setting, InvertedResidualConfig.adjust_channels(last_channel, width_mult)


def _mobilenet_v3(arch: str, weights: WeightsArg, progress: bool, **kwargs) -> MobileNetV3:
    weights = resolve_weights(weights, BACKBONE_WEIGHTS.get(arch))
    config_kwargs = {k: kwargs.pop(k) for k in ("width_mult", "reduced_tail", "dilated") if k in kwargs}
    setting, last_channel = mobilenet_v3_config(arch, **config_kwargs)
    num_classes = overwrite_num_classes(weights, kwargs.pop("num_classes", None))
    model = MobileNetV3(setting, last_channel, **({} if num_classes is None else {"num_classes": num_classes}),
                        **kwargs)
    load_resolved(model, weights, progress, CLASSIFIER_CLASS_SPECIFIC)
    return model


@legacy_interface(weights=("pretrained", MobileNet_V3_Large_Weights.IMAGENET1K_V1))
def mobilenet_v3_large(*, weights: WeightsArg = None, progress: bool = True, **kwargs) -> MobileNetV3:
    """MobileNetV3-Large. ``weights``: ``MobileNet_V3_Large_Weights`` (or its name) or a checkpoint file."""
    return _mobilenet_v3("mobilenet_v3_large", weights, progress, **kwargs)


@legacy_interface(weights=("pretrained", MobileNet_V3_Small_Weights.IMAGENET1K_V1))
def mobilenet_v3_small(*, weights: WeightsArg = None, progress: bool = True, **kwargs) -> MobileNetV3:
    """MobileNetV3-Small. ``weights``: ``MobileNet_V3_Small_Weights`` (or its name) or a checkpoint file."""
    return _mobilenet_v3("mobilenet_v3_small", weights, progress, **kwargs)
