"""Region Proposal Network (Ren et al. 2015): objectness and box deltas per anchor, decoded into proposals.

The methods are torchvision's override points, with its names, signatures and return values; each delegates to a
function of :mod:`.proposals` or :mod:`.loss`. A subclass overriding one changes the result as the same override of
torchvision's class does.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from ..box_coder import BoxCoder
from ..image_list import ImageList
from ..matcher import Matcher
from ..ops.boxes import box_iou
from ..ops.precision import to_float32
from ..sampling import BalancedPositiveNegativeSampler
from .anchor_generator import AnchorGenerator
from .loss import assign_targets_to_anchors, rpn_loss
from .proposals import candidates_before_nms, flatten_predictions, suppress_per_level

#: Proposals with a side shorter than this (pixels of the resized image) are dropped before NMS.
MIN_PROPOSAL_SIZE = 1e-3


class RegionProposalNetwork(nn.Module):
    """Proposals from anchors: the head scores and refines every anchor, the best survive per-level NMS.

    Args:
        anchor_generator: anchors for the feature maps.
        head: module mapping the feature maps to per-level objectness ``[N, A, H, W]`` and deltas ``[N, 4A, H, W]``.
        fg_iou_thresh: anchors with IoU >= this with a ground-truth box are positives in training.
        bg_iou_thresh: anchors whose best IoU is below this are negatives in training.
        batch_size_per_image: anchors sampled per image for the loss.
        positive_fraction: at most this fraction of the sampled anchors are positives.
        pre_nms_top_n: proposals kept per level before NMS, ``{"training": n, "testing": n}``.
        post_nms_top_n: proposals kept per image after NMS, ``{"training": n, "testing": n}``.
        nms_thresh: IoU above which NMS suppresses a proposal (per level).
        score_thresh: proposals with objectness probability below this are dropped.
    """

    def __init__(self, anchor_generator: AnchorGenerator, head: nn.Module, fg_iou_thresh: float,
                 bg_iou_thresh: float, batch_size_per_image: int, positive_fraction: float,
                 pre_nms_top_n: dict[str, int], post_nms_top_n: dict[str, int], nms_thresh: float,
                 score_thresh: float = 0.0) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.box_similarity = box_iou
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)
        self._pre_nms_top_n = pre_nms_top_n
        self._post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.score_thresh = score_thresh
        self.min_size = MIN_PROPOSAL_SIZE

    def pre_nms_top_n(self) -> int:
        return self._pre_nms_top_n["training" if self.training else "testing"]

    def post_nms_top_n(self) -> int:
        return self._post_nms_top_n["training" if self.training else "testing"]

    def assign_targets_to_anchors(self, anchors: list[Tensor], targets: list[dict[str, Tensor]]
                                  ) -> tuple[list[Tensor], list[Tensor]]:
        """Per image: float labels (1 object, 0 background, -1 ignored) and each anchor's matched gt box."""
        gt_boxes = [t["boxes"] for t in targets]
        match_quality = [self.box_similarity(gt, a) for gt, a in zip(gt_boxes, anchors)]
        return assign_targets_to_anchors(anchors, gt_boxes, match_quality, self.proposal_matcher)

    def filter_proposals(self, proposals: Tensor, objectness: Tensor, image_shapes: list[tuple[int, int]],
                         num_anchors_per_level: list[int]) -> tuple[list[Tensor], list[Tensor]]:
        """``proposals [N, A_total, 4]``, logits ``[N * A_total, 1]`` -> per image boxes and probabilities:
        :meth:`pre_nms_candidates`, then NMS per level and the ``post_nms_top_n`` best."""
        boxes, scores, levels = self.pre_nms_candidates(proposals, objectness, image_shapes, num_anchors_per_level)
        return suppress_per_level(boxes, scores, levels, self.nms_thresh, self.post_nms_top_n())

    def pre_nms_candidates(self, proposals: Tensor, objectness: Tensor, image_shapes: list[tuple[int, int]],
                           num_anchors_per_level: list[int]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per image the candidates NMS sees (boxes, probabilities, levels): the ``pre_nms_top_n`` best of each
        level, clipped, without boxes under ``min_size`` or scores under ``score_thresh`` (ours: torchvision does
        this inside ``filter_proposals``; :func:`maskrcnn.inspect` shows its result)."""
        return candidates_before_nms(proposals, objectness, image_shapes, num_anchors_per_level, self.pre_nms_top_n(),
                                     self.score_thresh, self.min_size)

    def compute_loss(self, objectness: Tensor, pred_bbox_deltas: Tensor, labels: list[Tensor],
                     regression_targets: list[Tensor]) -> tuple[Tensor, Tensor]:
        """``(objectness_loss, box_loss)``."""
        return rpn_loss(objectness, pred_bbox_deltas, labels, regression_targets, self.fg_bg_sampler)

    def forward(self, images: ImageList, features: dict[str, Tensor],
                targets: Optional[list[dict[str, Tensor]]] = None) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Returns per image the proposals ``[K, 4]`` (xyxy, resized image) and, in training, the two RPN losses."""
        feature_maps = list(features.values())
        objectness, pred_bbox_deltas = self.head(feature_maps)
        anchors = self.anchor_generator(images, feature_maps)
        num_anchors_per_level = [o[0].numel() for o in objectness]
        objectness, pred_bbox_deltas = flatten_predictions(objectness, pred_bbox_deltas)
        objectness, pred_bbox_deltas = to_float32(objectness), to_float32(pred_bbox_deltas)
        # the deltas are detached: Faster R-CNN does not backpropagate through the proposals
        proposals = self.box_coder.decode(pred_bbox_deltas.detach(), anchors).view(len(anchors), -1, 4)
        boxes, _ = self.filter_proposals(proposals, objectness, images.image_sizes, num_anchors_per_level)
        losses: dict[str, Tensor] = {}
        if self.training:
            if targets is None:
                raise ValueError("targets should not be None")
            labels, matched_gt_boxes = self.assign_targets_to_anchors(anchors, targets)
            regression_targets = self.box_coder.encode(matched_gt_boxes, anchors)
            loss_objectness, loss_rpn_box_reg = self.compute_loss(objectness, pred_bbox_deltas, labels,
                                                                  regression_targets)
            losses = {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box_reg}
        return boxes, losses
