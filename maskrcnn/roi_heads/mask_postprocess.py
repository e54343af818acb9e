"""Mask inference: per detection, the sigmoid of its predicted class's 28 x 28 logits."""
from __future__ import annotations

import torch
from torch import Tensor


def maskrcnn_inference(mask_logits: Tensor, labels: list[Tensor]) -> list[Tensor]:
    """``mask_logits [D, C, M, M]`` and per-image labels -> per image probabilities ``[D_i, 1, M, M]``."""
    all_labels = torch.cat(labels)
    index = torch.arange(mask_logits.shape[0], device=all_labels.device)
    probabilities = mask_logits[index, all_labels].sigmoid()[:, None]
    return list(probabilities.split([l.shape[0] for l in labels], dim=0))  # shapes: traced sizes stay traced
