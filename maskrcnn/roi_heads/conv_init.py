"""The initialisation torchvision gives the convolutions of its box and mask heads."""
from torch import nn


def init_head_convs(module: nn.Module) -> None:
    """Kaiming normal (fan_out, ReLU) for every ``Conv2d`` in ``module``, in ``modules()`` order, zero biases. The
    order draws the random numbers as torchvision does, so that a seeded model equals torchvision's."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
