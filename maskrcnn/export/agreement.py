"""How closely an exported model reproduces the PyTorch model's detections on one image.

A reference detection is reproduced when the exported output has a detection of the same label whose box overlaps
it with IoU above ``iou`` (0.99); each exported detection counts once (:func:`maskrcnn.testing.match_detections`,
the matching the model benchmark uses). Masks are compared on reproduced pairs: the mean absolute difference of
their probabilities over the whole image; keypoints too: the largest distance, in pixels, between a reproduced
pair's keypoints.
"""
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ..testing import match_detections

#: A reproduced detection's box must overlap the reference's more than this.
REPRODUCED_IOU = 0.99


@dataclass
class Agreement:
    reference: int
    exported: int
    reproduced: int
    mask_mean_abs_diff: float  # over reproduced pairs; 0 without masks or pairs
    keypoint_max_distance: Optional[float] = None  # px, over reproduced pairs; None without keypoints

    @property
    def fraction(self) -> float:
        """Reproduced share of the reference detections (1 when there are none and none were exported)."""
        if self.reference == 0:
            return 1.0 if self.exported == 0 else 0.0
        return self.reproduced / self.reference

    def summary(self) -> str:
        detail = (f"mask mean |diff| {self.mask_mean_abs_diff:.2e}" if self.keypoint_max_distance is None
                  else f"keypoints at most {self.keypoint_max_distance:.2e} px apart")
        return (f"{self.reproduced}/{self.reference} detections reproduced (same label, box IoU > {REPRODUCED_IOU}), "
                f"{self.exported} exported, {detail}")


def agreement(reference: dict[str, Tensor], exported: dict[str, Tensor], iou: float = REPRODUCED_IOU) -> Agreement:
    """Compares two outputs ``{"boxes", "labels", "scores"[, "masks" | "keypoints"]}`` of one image."""
    pairs = match_detections(exported, reference, iou)  # (exported index, reference index)
    mask_diff, keypoint_distance = 0.0, None
    exp_index, ref_index = (torch.tensor(index, dtype=torch.long) for index in zip(*pairs)) if pairs else \
        (torch.zeros(0, dtype=torch.long),) * 2
    if pairs and "masks" in reference and "masks" in exported:
        mask_diff = float((reference["masks"][ref_index].double() - exported["masks"][exp_index].double()).abs().mean())
    if "keypoints" in reference and "keypoints" in exported:
        gaps = reference["keypoints"][ref_index, :, :2].double() - exported["keypoints"][exp_index, :, :2].double()
        keypoint_distance = float(gaps.norm(dim=-1).max()) if pairs else 0.0
    return Agreement(len(reference["boxes"]), len(exported["boxes"]), len(pairs), mask_diff, keypoint_distance)
