"""Assigns each prediction (anchor or proposal) to its best ground-truth box, or marks it negative or ignored.

Convention: the quality matrix is ``[M ground truths, N predictions]`` (IoU). A prediction whose best quality is
``>= high_threshold`` is matched; ``< low_threshold`` gets ``BELOW_LOW_THRESHOLD`` (-1, a negative); in between
gets ``BETWEEN_THRESHOLDS`` (-2, ignored). With ``allow_low_quality_matches`` every ground truth also keeps the
predictions it overlaps most (ties included), even below the thresholds, so no ground truth goes unmatched.
"""
from __future__ import annotations

import torch
from torch import Tensor


class Matcher:
    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2
    # TorchScript reads only instance attributes: __init__ repeats the two values, these annotations type them.
    __annotations__ = {"BELOW_LOW_THRESHOLD": int, "BETWEEN_THRESHOLDS": int}

    def __init__(self, high_threshold: float, low_threshold: float, allow_low_quality_matches: bool = False) -> None:
        if low_threshold > high_threshold:
            raise ValueError(f"low_threshold ({low_threshold}) must be <= high_threshold ({high_threshold})")
        self.BELOW_LOW_THRESHOLD = -1
        self.BETWEEN_THRESHOLDS = -2
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, match_quality_matrix: Tensor) -> Tensor:
        """Returns ``[N]`` int64: the matched ground-truth index, or -1 / -2."""
        if match_quality_matrix.dim() != 2:
            raise ValueError(f"match_quality_matrix must be [M, N], got {list(match_quality_matrix.shape)}")
        if match_quality_matrix.numel() == 0:
            if match_quality_matrix.shape[0] == 0:
                raise ValueError("No ground-truth boxes available for one of the images during training")
            raise ValueError("No proposal boxes available for one of the images during training")
        matched_vals, matches = match_quality_matrix.max(dim=0)
        best_before_thresholds = matches.clone() if self.allow_low_quality_matches else None
        below = matched_vals < self.low_threshold
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[below] = self.BELOW_LOW_THRESHOLD
        matches[between] = self.BETWEEN_THRESHOLDS
        if best_before_thresholds is not None:
            best_for_each_gt = match_quality_matrix.max(dim=1).values
            _, best_predictions = torch.where(match_quality_matrix == best_for_each_gt[:, None])
            matches[best_predictions] = best_before_thresholds[best_predictions]
        return matches
