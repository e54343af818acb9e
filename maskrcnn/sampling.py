"""Samples a fixed-size, class-balanced minibatch of anchors or proposals per image.

Convention: matched indices ``>= 1`` are positives, ``0`` negatives, negative values ignored (callers shift
matched ground-truth indices by one or map labels before sampling). Randomness: one ``torch.randperm`` over the
positives, then one over the negatives, per image, in that order (this is what makes seeded runs reproduce
torchvision's sample).
"""
from __future__ import annotations

import torch
from torch import Tensor


class BalancedPositiveNegativeSampler:
    def __init__(self, batch_size_per_image: int, positive_fraction: float) -> None:
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction

    def __call__(self, matched_idxs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Returns per image two uint8 masks over ``matched_idxs``: the sampled positives and the sampled negatives."""
        pos_masks: list[Tensor] = []
        neg_masks: list[Tensor] = []
        for matched in matched_idxs:
            positive = torch.where(matched >= 1)[0]
            negative = torch.where(matched == 0)[0]
            num_pos = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
            num_neg = min(negative.numel(), self.batch_size_per_image - num_pos)
            chosen_pos = positive[torch.randperm(positive.numel(), device=positive.device)[:num_pos]]
            chosen_neg = negative[torch.randperm(negative.numel(), device=negative.device)[:num_neg]]
            pos_mask = torch.zeros_like(matched, dtype=torch.uint8)
            neg_mask = torch.zeros_like(matched, dtype=torch.uint8)
            pos_mask[chosen_pos] = 1
            neg_mask[chosen_neg] = 1
            pos_masks.append(pos_mask)
            neg_masks.append(neg_mask)
        return pos_masks, neg_masks
