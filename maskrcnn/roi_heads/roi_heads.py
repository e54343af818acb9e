"""The second stage: pool features for each proposal, classify and refine boxes, and predict masks (Mask R-CNN) or
keypoints (Keypoint R-CNN).

The methods are torchvision's override points (``check_targets``, ``add_gt_proposals``,
``assign_targets_to_proposals``, ``subsample``, ``select_training_samples``, ``postprocess_detections``), with its
names, signatures and return values; each delegates to a function of :mod:`.proposal_targets` or
:mod:`.box_postprocess`, and a subclass overriding one changes the result as the same override of torchvision's class
does. The losses belong to the predictors (``box_predictor.losses``, ``mask_predictor.losses``,
``keypoint_predictor.losses``) where they define them, so replacing a loss is replacing or subclassing a predictor.
The mask and keypoint branches are methods too (``mask_branch``, ``keypoint_branch``), for a subclass to override.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..box_coder import BoxCoder
from ..matcher import Matcher
from ..ops.precision import to_float32
from ..sampling import BalancedPositiveNegativeSampler
from . import proposal_targets
from .box_loss import fastrcnn_loss
from .box_postprocess import postprocess_detections
from .keypoint_loss import keypointrcnn_loss
from .keypoint_postprocess import keypointrcnn_inference
from .mask_loss import maskrcnn_loss
from .mask_postprocess import maskrcnn_inference

#: Box-head regression weights (wx, wy, ww, wh): deltas are scaled up so their spread is about 1.
DEFAULT_BBOX_REG_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def check_target_types(targets: list[dict[str, Tensor]]) -> None:
    for t in targets:
        if t["boxes"].dtype not in (torch.float, torch.double, torch.half):
            raise TypeError(f"target boxes must of float type, instead got {t['boxes'].dtype}")
        if t["labels"].dtype != torch.int64:
            raise TypeError(f"target labels must of int64 type, instead got {t['labels'].dtype}")


def check_keypoint_types(targets: list[dict[str, Tensor]]) -> None:
    for t in targets:
        if t["keypoints"].dtype != torch.float32:
            raise TypeError(f"target keypoints must of float type, instead got {t['keypoints'].dtype}")


class RoIHeads(nn.Module):
    """Box branch (pool, head, predictor) and optional mask branch (pool, head, predictor) over the proposals.

    Args:
        box_roi_pool: pools a fixed-size feature per box (``MultiScaleRoIAlign``, 7 x 7 by default).
        box_head: pooled features -> one vector per box (``TwoMLPHead`` by default).
        box_predictor: vector -> class logits ``[K, num_classes]`` and per-class deltas ``[K, 4 * num_classes]``.
        fg_iou_thresh: RoIs with IoU >= this with a ground-truth box are foreground in training.
        bg_iou_thresh: RoIs whose best IoU is below this are background in training.
        batch_size_per_image: RoIs sampled per image for the box losses.
        positive_fraction: at most this fraction of the sampled RoIs are foreground.
        bbox_reg_weights: ``(wx, wy, ww, wh)`` of the box coder; None means ``(10, 10, 5, 5)``.
        score_thresh: at inference, class scores must exceed this (strictly) for a detection.
        nms_thresh: IoU above which NMS suppresses a detection of the same class.
        detections_per_img: the highest-scoring detections kept per image.
        mask_roi_pool, mask_head, mask_predictor: the mask branch (14 x 14 pooling, four convs, 28 x 28 logits per
            class); all three or none.
        keypoint_roi_pool, keypoint_head, keypoint_predictor: the keypoint branch (14 x 14 pooling, eight convs,
            56 x 56 logits per keypoint); all three or none.
    """

    def __init__(self, box_roi_pool: nn.Module, box_head: nn.Module, box_predictor: nn.Module,
                 fg_iou_thresh: float, bg_iou_thresh: float, batch_size_per_image: int, positive_fraction: float,
                 bbox_reg_weights: Optional[tuple[float, float, float, float]], score_thresh: float,
                 nms_thresh: float, detections_per_img: int, mask_roi_pool: Optional[nn.Module] = None,
                 mask_head: Optional[nn.Module] = None, mask_predictor: Optional[nn.Module] = None,
                 keypoint_roi_pool: Optional[nn.Module] = None, keypoint_head: Optional[nn.Module] = None,
                 keypoint_predictor: Optional[nn.Module] = None) -> None:
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
        self.keypoint_roi_pool = keypoint_roi_pool
        self.keypoint_head = keypoint_head
        self.keypoint_predictor = keypoint_predictor

    def has_mask(self) -> bool:
        return self.mask_roi_pool is not None and self.mask_head is not None and self.mask_predictor is not None

    def has_keypoint(self) -> bool:
        return (self.keypoint_roi_pool is not None and self.keypoint_head is not None
                and self.keypoint_predictor is not None)

    # ------------------------------------------------------------------ torchvision's override points (training)
    def check_targets(self, targets: Optional[list[dict[str, Tensor]]]) -> None:
        if targets is None:
            raise ValueError("targets should not be None")
        keys = ["boxes", "labels"]
        if self.has_mask():
            keys.append("masks")
        if self.has_keypoint():
            keys.append("keypoints")
        for i, t in enumerate(targets):
            for key in keys:
                if key not in t:
                    raise ValueError(f"Every element of targets should have a {key} key (missing in target {i})")

    def add_gt_proposals(self, proposals: list[Tensor], gt_boxes: list[Tensor]) -> list[Tensor]:
        return proposal_targets.add_gt_proposals(proposals, gt_boxes)

    def assign_targets_to_proposals(self, proposals: list[Tensor], gt_boxes: list[Tensor], gt_labels: list[Tensor]
                                    ) -> tuple[list[Tensor], list[Tensor]]:
        return proposal_targets.assign_targets_to_proposals(proposals, gt_boxes, gt_labels, self.proposal_matcher)

    def subsample(self, labels: list[Tensor]) -> list[Tensor]:
        return proposal_targets.subsample(labels, self.fg_bg_sampler)

    def select_training_samples(self, proposals: list[Tensor], targets: Optional[list[dict[str, Tensor]]]
                                ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """Per image: the sampled RoIs, their matched gt indices, labels and regression targets."""
        self.check_targets(targets)
        assert targets is not None  # for TorchScript; check_targets raised otherwise
        dtype = proposals[0].dtype
        gt_boxes = [t["boxes"].to(dtype) for t in targets]
        gt_labels = [t["labels"] for t in targets]
        proposals = self.add_gt_proposals(proposals, gt_boxes)
        matched_idxs, labels = self.assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        sampled = self.subsample(labels)
        proposals = [p[keep] for p, keep in zip(proposals, sampled)]
        labels = [l[keep] for l, keep in zip(labels, sampled)]
        matched_idxs = [m[keep] for m, keep in zip(matched_idxs, sampled)]
        regression_targets = proposal_targets.regression_targets_for(proposals, matched_idxs, gt_boxes,
                                                                     self.box_coder)
        return proposals, matched_idxs, labels, regression_targets

    # ----------------------------------------------------------------- torchvision's override point (inference)
    def postprocess_detections(self, class_logits: Tensor, box_regression: Tensor, proposals: list[Tensor],
                               image_shapes: list[tuple[int, int]]
                               ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per image: boxes ``[D, 4]``, scores ``[D]``, labels ``[D]``, best first."""
        return postprocess_detections(class_logits, box_regression, proposals, image_shapes, self.box_coder,
                                      self.score_thresh, self.nms_thresh, self.detections_per_img)

    # ------------------------------------------------------------------------------------------------- losses
    def box_losses(self, class_logits: Tensor, box_regression: Tensor, labels: list[Tensor],
                   regression_targets: list[Tensor]) -> dict[str, Tensor]:
        """``box_predictor.losses(...)`` if the predictor defines it, else :func:`fastrcnn_loss`."""
        if hasattr(self.box_predictor, "losses"):
            return self.box_predictor.losses(class_logits, box_regression, labels, regression_targets)
        loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels, regression_targets)
        return {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}

    def mask_losses(self, mask_logits: Tensor, proposals: list[Tensor], gt_masks: list[Tensor],
                    gt_labels: list[Tensor], mask_matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        """``mask_predictor.losses(...)`` if the predictor defines it, else :func:`maskrcnn_loss`."""
        if hasattr(self.mask_predictor, "losses"):
            return self.mask_predictor.losses(mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs)
        return {"loss_mask": maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs)}

    def keypoint_losses(self, keypoint_logits: Tensor, proposals: list[Tensor], gt_keypoints: list[Tensor],
                        keypoint_matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        """``keypoint_predictor.losses(...)`` if the predictor defines it, else :func:`keypointrcnn_loss`."""
        if hasattr(self.keypoint_predictor, "losses"):
            return self.keypoint_predictor.losses(keypoint_logits, proposals, gt_keypoints, keypoint_matched_idxs)
        return {"loss_keypoint": keypointrcnn_loss(keypoint_logits, proposals, gt_keypoints, keypoint_matched_idxs)}

    # ------------------------------------------------------------------------------------------------ forward
    def forward(self, features: dict[str, Tensor], proposals: list[Tensor], image_shapes: list[tuple[int, int]],
                targets: Optional[list[dict[str, Tensor]]] = None
                ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """Training: ``([], losses)``; inference: per image ``{"boxes", "labels", "scores"[, "masks"]}`` and ``{}``.
        """
        if targets is not None:
            check_target_types(targets)
            if self.has_keypoint():
                check_keypoint_types(targets)
        matched_idxs: Optional[list[Tensor]] = None
        labels: list[Tensor] = []
        regression_targets: list[Tensor] = []
        if self.training:
            proposals, matched_idxs, labels, regression_targets = self.select_training_samples(proposals, targets)
        box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(box_features)
        class_logits, box_regression = to_float32(class_logits), to_float32(box_regression)
        result: list[dict[str, Tensor]] = []
        losses: dict[str, Tensor] = {}
        if self.training:
            losses = self.box_losses(class_logits, box_regression, labels, regression_targets)
        else:
            boxes, scores, labels = self.postprocess_detections(class_logits, box_regression, proposals,
                                                                image_shapes)
            for b, l, s in zip(boxes, labels, scores):
                result.append({"boxes": b, "labels": l, "scores": s})
        if self.has_mask():
            losses.update(self.mask_branch(features, proposals, image_shapes, targets, result, labels,
                                           matched_idxs))
        if self.has_keypoint():
            losses.update(self.keypoint_branch(features, proposals, image_shapes, targets, result, labels,
                                               matched_idxs))
        return result, losses

    def branch_rois(self, proposals: list[Tensor], result: list[dict[str, Tensor]], labels: list[Tensor],
                    matched_idxs: Optional[list[Tensor]]) -> tuple[list[Tensor], list[Tensor]]:
        """The RoIs a mask or keypoint branch sees: in training the foreground RoIs with their matched ground-truth
        indices; at inference the detections' boxes (and no indices)."""
        if self.training:
            assert matched_idxs is not None  # for TorchScript; select_training_samples set it
            return proposal_targets.positive_samples(proposals, labels, matched_idxs)
        no_indices: list[Tensor] = []
        return [r["boxes"] for r in result], no_indices

    def mask_branch(self, features: dict[str, Tensor], proposals: list[Tensor], image_shapes: list[tuple[int, int]],
                    targets: Optional[list[dict[str, Tensor]]], result: list[dict[str, Tensor]],
                    labels: list[Tensor], matched_idxs: Optional[list[Tensor]]) -> dict[str, Tensor]:
        """Training: the mask loss on the foreground RoIs. Inference: adds ``"masks"`` (``[D, 1, 28, 28]``
        probabilities of each detection's class) to ``result`` and returns no loss."""
        mask_proposals, positive_matched = self.branch_rois(proposals, result, labels, matched_idxs)
        if self.mask_roi_pool is None:  # (has_mask() said no; written out so that TorchScript skips a None branch)
            raise ValueError("the mask branch needs mask_roi_pool, mask_head and mask_predictor")
        mask_features = self.mask_head(self.mask_roi_pool(features, mask_proposals, image_shapes))
        mask_logits = to_float32(self.mask_predictor(mask_features))
        if self.training:
            assert targets is not None  # for TorchScript; select_training_samples checked them
            return self.mask_losses(mask_logits, mask_proposals, [t["masks"] for t in targets],
                                    [t["labels"] for t in targets], positive_matched)
        for prediction, masks in zip(result, maskrcnn_inference(mask_logits, [r["labels"] for r in result])):
            prediction["masks"] = masks
        return {}

    def keypoint_branch(self, features: dict[str, Tensor], proposals: list[Tensor],
                        image_shapes: list[tuple[int, int]], targets: Optional[list[dict[str, Tensor]]],
                        result: list[dict[str, Tensor]], labels: list[Tensor], matched_idxs: Optional[list[Tensor]]
                        ) -> dict[str, Tensor]:
        """Training: the keypoint loss on the foreground RoIs. Inference: adds ``"keypoints"`` (``[D, K, 3]``:
        x, y in input pixels, 1) and ``"keypoints_scores"`` (``[D, K]``, heatmap logits) to ``result``."""
        keypoint_proposals, positive_matched = self.branch_rois(proposals, result, labels, matched_idxs)
        if self.keypoint_roi_pool is None:  # (has_keypoint() said no; written out for TorchScript)
            raise ValueError("the keypoint branch needs keypoint_roi_pool, keypoint_head and keypoint_predictor")
        keypoint_features = self.keypoint_head(self.keypoint_roi_pool(features, keypoint_proposals, image_shapes))
        keypoint_logits = to_float32(self.keypoint_predictor(keypoint_features))
        if self.training:
            assert targets is not None  # for TorchScript; select_training_samples checked them
            return self.keypoint_losses(keypoint_logits, keypoint_proposals, [t["keypoints"] for t in targets],
                                        positive_matched)
        keypoints, scores = keypointrcnn_inference(keypoint_logits, keypoint_proposals)
        for prediction, image_keypoints, image_scores in zip(result, keypoints, scores):
            prediction["keypoints"] = image_keypoints
            prediction["keypoints_scores"] = image_scores
        return {}
