"""Learning-rate schedule by optimizer step: linear warm-up, then step decay at given epochs.

torchvision's reference recipe: the rate rises linearly from ``warmup_factor * lr`` to ``lr`` over the first
``warmup_iters`` steps (1000 at factor 0.001 for COCO), and is multiplied by ``gamma`` (0.1) at each milestone epoch
(16 and 22 of 26). Stepped once per iteration, so the schedule resumes exactly from a checkpoint.
"""
from __future__ import annotations

import bisect
from typing import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_multistep_factor(step: int, iters_per_epoch: int, milestones: Sequence[int], gamma: float,
                            warmup_iters: int, warmup_factor: float) -> float:
    """Multiplier of the base rate at optimizer step ``step`` (counted from 0)."""
    factor = gamma ** bisect.bisect_right(sorted(milestones), step // max(iters_per_epoch, 1))
    if step < warmup_iters:
        alpha = step / warmup_iters
        factor *= warmup_factor * (1 - alpha) + alpha
    return factor


def warmup_multistep_lr(optimizer: Optimizer, iters_per_epoch: int, milestones: Sequence[int], gamma: float = 0.1,
                        warmup_iters: int = 1000, warmup_factor: float = 1e-3) -> LambdaLR:
    def factor(step: int) -> float:
        return warmup_multistep_factor(step, iters_per_epoch, milestones, gamma, warmup_iters, warmup_factor)
    return LambdaLR(optimizer, factor)
