"""How closely an exported model reproduces the PyTorch model's detections on one image.

A reference detection is reproduced when the exported output has a detection of the same label whose box overlaps
it with IoU above ``iou`` (0.99); each exported detection counts once (:func:`maskrcnn.testing.match_detections`,
the matching the model benchmark uses). Masks are compared on reproduced pairs: the mean absolute difference of
their probabilities over the whole image.
"""
from dataclasses import dataclass

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

    @property
    def fraction(self) -> float:
        """Reproduced share of the reference detections (1 when there are none and none were exported)."""
        if self.reference == 0:
            return 1.0 if self.exported == 0 else 0.0
        return self.reproduced / self.reference

    def summary(self) -> str:
        return (f"{self.reproduced}/{self.reference} detections reproduced (same label, box IoU > {REPRODUCED_IOU}), "
                f"{self.exported} exported, mask mean |diff| {self.mask_mean_abs_diff:.2e}")


def agreement(reference: dict[str, Tensor], exported: dict[str, Tensor], iou: float = REPRODUCED_IOU) -> Agreement:
    """Compares two outputs ``{"boxes", "labels", "scores"[, "masks"]}`` of one image."""
    pairs = match_detections(exported, reference, iou)  # (exported index, reference index)
    mask_diff = 0.0
    if pairs and "masks" in reference and "masks" in exported:
        exp_index, ref_index = (torch.tensor(index) for index in zip(*pairs))
        mask_diff = float((reference["masks"][ref_index].double() - exported["masks"][exp_index].double()).abs().mean())
    return Agreement(len(reference["boxes"]), len(exported["boxes"]), len(pairs), mask_diff)
