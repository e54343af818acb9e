"""Region Proposal Network (Ren et al. 2015): objectness and box deltas per anchor, decoded into proposals."""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from ..box_coder import BoxCoder
from ..matcher import Matcher
from ..ops.precision import full_precision
from ..sampling import BalancedPositiveNegativeSampler
from ..image_list import ImageList
from .anchor_generator import AnchorGenerator
from .loss import assign_targets_to_anchors, rpn_loss
from .proposals import flatten_predictions, select_proposals

#: Proposals with a side shorter than this (pixels of the resized image) are dropped before NMS.
MIN_PROPOSAL_SIZE = 1e-3


class RegionProposalNetwork(nn.Module):
    """``pre_nms_top_n`` / ``post_nms_top_n`` are dicts with keys "training" and "testing"."""

    def __init__(self, anchor_generator: AnchorGenerator, head: nn.Module, fg_iou_thresh: float,
                 bg_iou_thresh: float, batch_size_per_image: int, positive_fraction: float,
                 pre_nms_top_n: dict[str, int], post_nms_top_n: dict[str, int], nms_thresh: float,
                 score_thresh: float = 0.0) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
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

    def forward(self, images: ImageList, features: dict[str, Tensor],
                targets: Optional[list[dict[str, Tensor]]] = None) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Returns per image the proposals ``[K, 4]`` (xyxy, resized image) and, in training, the two RPN losses."""
        feature_maps = list(features.values())
        objectness, pred_deltas = self.head(feature_maps)
        anchors = self.anchor_generator(images, feature_maps)
        num_anchors_per_level = [o.shape[1] * o.shape[2] * o.shape[3] for o in objectness]
        objectness, pred_deltas = flatten_predictions(objectness, pred_deltas)
        objectness, pred_deltas = full_precision(objectness), full_precision(pred_deltas)
        proposals = self.box_coder.decode(pred_deltas.detach(), anchors).view(len(anchors), -1, 4)
        boxes, _ = select_proposals(proposals, objectness, images.image_sizes, num_anchors_per_level,
                                    self.pre_nms_top_n(), self.post_nms_top_n(), self.nms_thresh,
                                    self.score_thresh, self.min_size)
        if not self.training:
            return boxes, {}
        if targets is None:
            raise ValueError("targets should not be None")
        labels, matched_gt_boxes = assign_targets_to_anchors(anchors, [t["boxes"] for t in targets],
                                                             self.proposal_matcher)
        regression_targets = self.box_coder.encode(matched_gt_boxes, anchors)
        loss_objectness, loss_rpn_box_reg = rpn_loss(objectness, pred_deltas, labels, regression_targets,
                                                     self.fg_bg_sampler)
        return boxes, {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box_reg}
