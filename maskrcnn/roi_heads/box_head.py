"""Box branch modules: the feature extractor (two fully connected layers) and the class/box predictor."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .box_loss import fastrcnn_loss


class TwoMLPHead(nn.Module):
    """Flatten the pooled ``[K, C, 7, 7]`` features, then fc6 + ReLU, fc7 + ReLU (``representation_size`` wide)."""

    def __init__(self, in_channels: int, representation_size: int) -> None:
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.fc7(F.relu(self.fc6(x.flatten(start_dim=1)))))


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
