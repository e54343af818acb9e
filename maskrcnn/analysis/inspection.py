"""Every stage of the detector for one image, as tensors: ``maskrcnn.inspect(model, image, target=None)``.

The model runs once, in eval mode, exactly as ``model([image])`` does: forward hooks (removed afterwards) record what
its parts return, the RPN's ``pre_nms_candidates`` is recorded as the model calls it (what NMS sees, also under an
overridden ``filter_proposals`` that calls it), and its public methods (``assign_targets_to_anchors``,
``select_training_samples``, ``postprocess_detections``) derive the rest. No code path of the model changes, so it
works on a tweaked model too (another anchor generator, another head), as long as it keeps torchvision's parts:
``transform``, ``backbone``, ``rpn`` (``anchor_generator``, ``head``), ``roi_heads`` (``box_predictor``, and
``mask_predictor`` for masks).

Coordinate frames: *input* is the original image's pixels; *resized* is the model's input after its transform
(``scale`` times the input, before padding). Boxes are ``(x1, y1, x2, y2)``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.boxes import clip_boxes_to_image
from ..ops.precision import to_float32


@dataclass
class Inspection:
    """One image's intermediates (all on the CPU). Shapes: ``A_l`` anchors on level ``l``, ``K`` proposals, ``D``
    detections, ``C`` classes (with background)."""

    #: the caller's image ``[3, H, W]`` in [0, 1]
    image: Tensor
    #: the normalised, resized image the backbone reads, ``[3, h, w]`` (unpadded), and its display version in [0, 1]
    input: Tensor
    display: Tensor
    #: resized size over input size, ``(sy, sx)``; sizes ``(h, w)`` of the original and of the resized image
    scale: tuple[float, float]
    original_size: tuple[int, int]
    resized_size: tuple[int, int]
    #: FPN levels by name, ``[C_f, H_l, W_l]``; the padded batch size the strides refer to
    features: dict[str, Tensor]
    #: per level: anchors ``[A_l, 4]`` (resized frame) and objectness probabilities ``[A_l]`` (sigmoid of the
    #: logits), in the same (y, x, anchor) order; anchors per location
    anchors: dict[str, Tensor]
    objectness: dict[str, Tensor]
    anchors_per_location: list[int]
    #: the RPN's candidates before NMS (``rpn.pre_nms_candidates`` as the model called it: by default the
    #: ``pre_nms_top_n`` best of each level, decoded and clipped; resized frame), with their probabilities and levels;
    #: after NMS: what the RPN passes to the RoI heads
    proposals_before_nms: Tensor
    proposal_scores_before_nms: Tensor
    proposal_levels_before_nms: Tensor
    proposals: Tensor
    proposal_scores: Tensor
    #: the box head on the proposals: class probabilities ``[K, C]`` and refined boxes ``[K, C, 4]`` (resized frame)
    class_scores: Tensor
    refined_boxes: Tensor
    #: thresholds and how many (proposal, class) candidates pass the score threshold, before per-class NMS
    score_thresh: float
    nms_thresh: float
    candidates_above_thresh: int
    #: detections after NMS in the resized frame (``postprocess_detections``) and the model's final output
    detections_resized: dict[str, Tensor]
    output: dict[str, Tensor]
    #: 28 x 28 mask logits of each detection's class ``[D, M, M]`` (None without a mask branch)
    mask_logits: Optional[Tensor] = None
    #: 56 x 56 keypoint heatmap logits of each detection ``[D, K, 56, 56]`` (None without a keypoint branch); the
    #: predicted keypoint of each map is its best cell, resized to the box
    keypoint_logits: Optional[Tensor] = None
    #: the model's settings the captions quote (NMS thresholds, top-n, IoU thresholds of the matchers, ...)
    settings: dict[str, float] = field(default_factory=dict)
    #: with a target (resized frame): per level, each anchor's RPN label (1 positive, 0 negative, -1 ignored); the
    #: sampled RoIs, their role (1 positive, 0 negative), labels and matched ground-truth boxes; the ground truth
    target: Optional[dict[str, Tensor]] = None
    anchor_labels: Optional[dict[str, Tensor]] = None
    sampled_rois: Optional[Tensor] = None
    sampled_labels: Optional[Tensor] = None
    sampled_matched_boxes: Optional[Tensor] = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_masks(self) -> bool:
        return self.mask_logits is not None

    @property
    def has_keypoints(self) -> bool:
        return self.keypoint_logits is not None


def _record(store: dict, name: str, module: nn.Module, args: Any, output: Any) -> None:
    store[name] = output


@torch.no_grad()
def inspect(model: nn.Module, image: Tensor, target: Optional[dict[str, Tensor]] = None,
            seed: int = 0) -> Inspection:
    """Runs ``model([image])`` once (in eval mode; the mode is restored) and returns every stage's intermediates.

    ``image`` is a float RGB ``[3, H, W]`` tensor in [0, 1]; ``target`` (optional) ``{"boxes", "labels"[, "masks"]}``
    in the image's pixels and the model's labels. The RPN's and RoI heads' sampling for the target views draws from
    a forked generator seeded with ``seed``: the caller's random state is untouched.
    """
    was_training = model.training
    model.eval()
    seen: dict[str, Any] = {}
    parts = {"transform": model.transform, "backbone": model.backbone, "anchors": model.rpn.anchor_generator,
             "rpn_head": model.rpn.head, "rpn": model.rpn, "box_predictor": model.roi_heads.box_predictor}
    has_masks = bool(getattr(model.roi_heads, "has_mask", lambda: False)())
    if has_masks:
        parts["mask_predictor"] = model.roi_heads.mask_predictor
    has_keypoints = bool(getattr(model.roi_heads, "has_keypoint", lambda: False)())
    if has_keypoints:
        parts["keypoint_predictor"] = model.roi_heads.keypoint_predictor
    handles = [module.register_forward_hook(functools.partial(_record, seen, name)) for name, module in parts.items()]
    rpn = model.rpn
    own_method = rpn.pre_nms_candidates

    def record_candidates(*args: Any, **kwargs: Any) -> Any:
        seen["candidates"] = result = own_method(*args, **kwargs)
        return result

    rpn.pre_nms_candidates = record_candidates  # on this instance only, for this one call
    try:
        output = model([image])[0]
    finally:
        del rpn.pre_nms_candidates
        for handle in handles:
            handle.remove()
        model.train(was_training)
    image_list, _ = seen["transform"]
    resized_size = tuple(int(s) for s in image_list.image_sizes[0])
    original_size = (int(image.shape[-2]), int(image.shape[-1]))
    features = {name: f[0].cpu() for name, f in seen["backbone"].items()}

    # anchors and objectness, per level
    logits, deltas = seen["rpn_head"]
    per_level = [int(o[0].numel()) for o in logits]
    names = list(features)[:len(per_level)]
    all_anchors = seen["anchors"][0]
    anchors = dict(zip(names, all_anchors.split(per_level)))
    objectness = {name: to_float32(o[0]).permute(1, 2, 0).reshape(-1).sigmoid()
                  for name, o in zip(names, logits)}
    anchors_per_location = [int(o.shape[1]) for o in logits]

    # the RPN's candidates before NMS, as its own pre_nms_candidates returned them
    if "candidates" not in seen:
        raise ValueError(f"{type(rpn).__name__}.filter_proposals does not call pre_nms_candidates: the candidates "
                         f"before NMS cannot be shown")
    candidate_boxes, candidate_scores, candidate_levels = (parts[0] for parts in seen["candidates"])
    before, scores_before, levels_before = [candidate_boxes], [candidate_scores], [candidate_levels]
    proposals, _ = seen["rpn"]

    # the box head on those proposals, before and after the score threshold and per-class NMS
    class_logits, box_regression = (to_float32(t) for t in seen["box_predictor"])
    roi_heads = model.roi_heads
    class_scores = F.softmax(class_logits, -1)
    refined = roi_heads.box_coder.decode(box_regression, [proposals[0]]).reshape(len(class_scores), -1, 4)
    refined = clip_boxes_to_image(refined, resized_size)
    boxes, scores, labels = roi_heads.postprocess_detections(class_logits, box_regression, proposals,
                                                             image_list.image_sizes)
    proposal_scores = _proposal_scores(proposals[0], torch.cat(before), torch.cat(scores_before))
    inspection = Inspection(
        image=image.cpu(), input=image_list.tensors[0, :, :resized_size[0], :resized_size[1]].cpu(),
        display=_display(model.transform, image_list.tensors[0, :, :resized_size[0], :resized_size[1]]).cpu(),
        scale=(resized_size[0] / original_size[0], resized_size[1] / original_size[1]),
        original_size=original_size, resized_size=resized_size, features=features,
        anchors={k: v.cpu() for k, v in anchors.items()}, objectness={k: v.cpu() for k, v in objectness.items()},
        anchors_per_location=anchors_per_location,
        proposals_before_nms=torch.cat(before).cpu(), proposal_scores_before_nms=torch.cat(scores_before).cpu(),
        proposal_levels_before_nms=torch.cat(levels_before).cpu(), proposals=proposals[0].cpu(),
        proposal_scores=proposal_scores.cpu(), class_scores=class_scores.cpu(), refined_boxes=refined.cpu(),
        score_thresh=float(roi_heads.score_thresh), nms_thresh=float(roi_heads.nms_thresh),
        candidates_above_thresh=int((class_scores[:, 1:] > roi_heads.score_thresh).sum()),
        detections_resized={"boxes": boxes[0].cpu(), "scores": scores[0].cpu(), "labels": labels[0].cpu()},
        output={k: v.cpu() for k, v in output.items()},
        settings={"rpn_pre_nms_top_n": rpn.pre_nms_top_n(), "rpn_post_nms_top_n": rpn.post_nms_top_n(),
                  "rpn_nms_thresh": rpn.nms_thresh, "rpn_fg_iou_thresh": rpn.proposal_matcher.high_threshold,
                  "rpn_bg_iou_thresh": rpn.proposal_matcher.low_threshold,
                  "box_fg_iou_thresh": roi_heads.proposal_matcher.high_threshold,
                  "box_bg_iou_thresh": roi_heads.proposal_matcher.low_threshold,
                  "detections_per_img": roi_heads.detections_per_img,
                  "padded_height": int(image_list.tensors.shape[-2]), "padded_width": int(image_list.tensors.shape[-1])})
    if has_masks:
        mask_logits = to_float32(seen["mask_predictor"])
        index = torch.arange(len(mask_logits), device=mask_logits.device)
        inspection.mask_logits = mask_logits[index, output["labels"]].cpu() if len(mask_logits) else \
            mask_logits[:, 0].cpu()
    elif not has_keypoints:
        inspection.notes.append("the model has no mask branch: no mask logits or masks")
    if has_keypoints:
        inspection.keypoint_logits = to_float32(seen["keypoint_predictor"]).cpu()
    if target is not None:
        _inspect_target(model, image, target, inspection, anchors, names, seed)
    return inspection


def _display(transform: nn.Module, tensor: Tensor) -> Tensor:
    """The normalised input mapped back to [0, 1] with the transform's mean and std, for drawing."""
    mean = torch.as_tensor(transform.image_mean, dtype=tensor.dtype, device=tensor.device)[:, None, None]
    std = torch.as_tensor(transform.image_std, dtype=tensor.dtype, device=tensor.device)[:, None, None]
    return (tensor * std + mean).clamp(0, 1)


def _proposal_scores(proposals: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
    """The objectness of each proposal the RPN kept: NMS keeps candidates unchanged, so each is one of them."""
    if len(proposals) == 0:
        return proposals.new_zeros(0)
    same = (proposals[:, None, :] == candidates[None, :, :]).all(-1)
    return torch.where(same, scores[None, :], torch.zeros_like(scores)[None, :]).max(1).values


def _inspect_target(model: nn.Module, image: Tensor, target: dict[str, Tensor], inspection: Inspection,
                    anchors: dict[str, Tensor], names: list[str], seed: int) -> None:
    """Anchor matching and RoI sampling for ``target``, through the RPN's and RoI heads' own methods."""
    target = dict(target)
    if getattr(model.roi_heads, "has_mask", lambda: False)() and "masks" not in target:
        # RoI sampling checks that a mask model's targets have masks; matching reads only the boxes
        target["masks"] = torch.zeros((len(target["boxes"]), *image.shape[-2:]), dtype=torch.uint8,
                                      device=image.device)
    _, targets = model.transform([image], [target])  # eval mode: resized to the inference size
    resized = {k: v for k, v in targets[0].items()}
    inspection.target = {k: v.cpu() for k, v in resized.items() if isinstance(v, Tensor)}
    all_anchors = torch.cat(list(anchors.values()))
    with torch.random.fork_rng(devices=[image.device] if image.device.type == "cuda" else []):
        torch.manual_seed(seed)
        labels, _ = model.rpn.assign_targets_to_anchors([all_anchors], [resized])
        inspection.anchor_labels = dict(zip(names, (l.cpu() for l in labels[0].split([len(a) for a in
                                                                                     anchors.values()]))))
        rois, matched, roi_labels, _ = model.roi_heads.select_training_samples(
            [inspection.proposals.to(image.device)], [resized])
    gt = resized["boxes"]
    inspection.sampled_rois = rois[0].cpu()
    inspection.sampled_labels = roi_labels[0].cpu()
    inspection.sampled_matched_boxes = (gt[matched[0]] if len(gt) else torch.zeros_like(rois[0])).cpu()
