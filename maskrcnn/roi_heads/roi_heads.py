"""The second stage: pool features for each proposal, classify and refine boxes, and predict masks."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..box_coder import BoxCoder
from ..matcher import Matcher
from ..ops.precision import full_precision
from ..poolers import pooling_levels
from ..sampling import BalancedPositiveNegativeSampler
from .box_loss import fastrcnn_loss
from .box_postprocess import postprocess_detections
from .mask_loss import maskrcnn_loss
from .mask_postprocess import maskrcnn_inference
from .proposal_targets import select_training_samples

#: Box-head regression weights (wx, wy, ww, wh): deltas are scaled up so their spread is about 1.
DEFAULT_BBOX_REG_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def check_targets(targets: Optional[list[dict[str, Tensor]]], needs_masks: bool) -> None:
    if targets is None:
        raise ValueError("targets should not be None")
    for i, t in enumerate(targets):
        for key in ("boxes", "labels") + (("masks",) if needs_masks else ()):
            if key not in t:
                raise ValueError(f"Every element of targets should have a {key} key (missing in target {i})")
        if t["boxes"].dtype not in (torch.float, torch.double, torch.half):
            raise TypeError(f"target boxes must of float type, instead got {t['boxes'].dtype}")
        if t["labels"].dtype != torch.int64:
            raise TypeError(f"target labels must of int64 type, instead got {t['labels'].dtype}")


class RoIHeads(nn.Module):
    def __init__(self, box_roi_pool: nn.Module, box_head: nn.Module, box_predictor: nn.Module,
                 fg_iou_thresh: float, bg_iou_thresh: float, batch_size_per_image: int, positive_fraction: float,
                 bbox_reg_weights: Optional[tuple[float, float, float, float]], score_thresh: float,
                 nms_thresh: float, detections_per_img: int, mask_roi_pool: Optional[nn.Module] = None,
                 mask_head: Optional[nn.Module] = None, mask_predictor: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=False)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)
        self.box_coder = BoxCoder(bbox_reg_weights if bbox_reg_weights is not None else DEFAULT_BBOX_REG_WEIGHTS)
        self.box_roi_pool = box_roi_pool
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.mask_roi_pool = mask_roi_pool
        self.mask_head = mask_head
        self.mask_predictor = mask_predictor

    def has_mask(self) -> bool:
        return self.mask_roi_pool is not None and self.mask_head is not None and self.mask_predictor is not None

    def predict_boxes(self, features: dict[str, Tensor], proposals: list[Tensor],
                      image_shapes: list[tuple[int, int]]) -> tuple[Tensor, Tensor]:
        pooled = self.box_roi_pool(features, proposals, image_shapes)
        class_logits, box_regression = self.box_predictor(self.box_head(pooled))
        return full_precision(class_logits), full_precision(box_regression)

    def predict_masks(self, features: dict[str, Tensor], boxes: list[Tensor],
                      image_shapes: list[tuple[int, int]]) -> Tensor:
        pooled = self.mask_roi_pool(features, boxes, image_shapes)
        return full_precision(self.mask_predictor(self.mask_head(pooled)))

    def forward(self, features: dict[str, Tensor], proposals: list[Tensor], image_shapes: list[tuple[int, int]],
                targets: Optional[list[dict[str, Tensor]]] = None
                ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """Training: ``([], losses)``; inference: per image ``{"boxes", "labels", "scores"[, "masks"]}`` and ``{}``."""
        if targets is not None or self.training:
            check_targets(targets, needs_masks=self.training and self.has_mask())
        features = pooling_levels(features)
        if self.training:
            return [], self._losses(features, proposals, image_shapes, targets)
        return self._detect(features, proposals, image_shapes), {}

    def _losses(self, features: dict[str, Tensor], proposals: list[Tensor], image_shapes: list[tuple[int, int]],
                targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        proposals, matched_idxs, labels, regression_targets = select_training_samples(
            proposals, targets, self.proposal_matcher, self.fg_bg_sampler, self.box_coder)
        class_logits, box_regression = self.predict_boxes(features, proposals, image_shapes)
        loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels, regression_targets)
        losses = {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        if self.has_mask():
            positive = [torch.where(image_labels > 0)[0] for image_labels in labels]
            mask_proposals = [p[pos] for p, pos in zip(proposals, positive)]
            positive_matched = [m[pos] for m, pos in zip(matched_idxs, positive)]
            mask_logits = self.predict_masks(features, mask_proposals, image_shapes)
            losses["loss_mask"] = maskrcnn_loss(mask_logits, mask_proposals, [t["masks"] for t in targets],
                                                [t["labels"] for t in targets], positive_matched)
        return losses

    def _detect(self, features: dict[str, Tensor], proposals: list[Tensor],
                image_shapes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        class_logits, box_regression = self.predict_boxes(features, proposals, image_shapes)
        boxes, scores, labels = postprocess_detections(class_logits, box_regression, proposals, image_shapes,
                                                       self.box_coder, self.score_thresh, self.nms_thresh,
                                                       self.detections_per_img)
        result = [{"boxes": b, "labels": l, "scores": s} for b, l, s in zip(boxes, labels, scores)]
        if self.has_mask():
            mask_logits = self.predict_masks(features, boxes, image_shapes)
            for prediction, masks in zip(result, maskrcnn_inference(mask_logits, labels)):
                prediction["masks"] = masks
        return result
