"""Box branch modules: the feature extractors (v1's two fully connected layers, v2's convolutions then a fully
connected layer) and the class/box predictor."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.conv_norm_act import Conv2dNormActivation
from .box_loss import fastrcnn_loss
from .conv_init import init_head_convs


class TwoMLPHead(nn.Module):
    """Flatten the pooled ``[K, C, 7, 7]`` features, then fc6 + ReLU, fc7 + ReLU (``representation_size`` wide)."""

    def __init__(self, in_channels: int, representation_size: int) -> None:
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.fc7(F.relu(self.fc6(x.flatten(start_dim=1)))))


class FastRCNNConvFCHead(nn.Sequential):
    """v2's box head: 3x3 conv (+ norm) + ReLU per entry of ``conv_layers``, flatten, then Linear + ReLU per entry
    of ``fc_layers``. ``input_size`` is the pooled feature's ``(channels, height, width)``. Keys ``{i}.0.weight``
    (convolutions), ``{i}.weight`` (linear layers), as torchvision's."""

    def __init__(self, input_size: tuple[int, int, int], conv_layers: Sequence[int], fc_layers: Sequence[int],
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        channels, height, width = input_size
        blocks: list[nn.Module] = []
        for width_out in conv_layers:
            blocks.append(Conv2dNormActivation(channels, width_out, norm_layer=norm_layer))
            channels = width_out
        blocks.append(nn.Flatten())
        features = channels * height * width
        for width_out in fc_layers:
            blocks += [nn.Linear(features, width_out), nn.ReLU(inplace=True)]
            features = width_out
        super().__init__(*blocks)
        init_head_convs(self)


class FastRCNNPredictor(nn.Module):
    """Class logits ``[K, num_classes]`` (index 0 = background) and per-class box deltas ``[K, 4 * num_classes]``.

    It owns the box losses: ``RoIHeads`` calls :meth:`losses` in training, so a subclass overriding it replaces
    them (e.g. a focal classification loss).
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() == 4 and list(x.shape[2:]) != [1, 1]:
            raise ValueError(f"x has the wrong shape, expecting the last two dimensions to be [1,1] "
                             f"instead of {list(x.shape[2:])}")
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)

    def losses(self, class_logits: Tensor, box_regression: Tensor, labels: list[Tensor],
               regression_targets: list[Tensor]) -> dict[str, Tensor]:
        """``{"loss_classifier", "loss_box_reg"}`` of the sampled RoIs (:func:`fastrcnn_loss`)."""
        loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels, regression_targets)
        return {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
