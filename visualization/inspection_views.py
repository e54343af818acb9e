"""Pictures of every stage of one image's pass through the detector, from a :class:`maskrcnn.Inspection`.

Each view is an RGB picture and a caption whose counts, shapes and thresholds are read off the inspection's tensors.
Small images are enlarged (nearest neighbour) so that boxes and text stay readable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from .colors import class_color
from .draw import as_rgb_array, class_name, draw_instances, draw_keypoints
from .grid import image_grid

#: Views are drawn at least this large (the longer side), so that boxes and captions read.
MIN_VIEW_SIDE = 640
#: How many boxes a view draws at most (the best ones): more would hide the image.
MAX_BOXES = 50
POSITIVE, NEGATIVE, GROUND_TRUTH = (40, 200, 60), (220, 50, 50), (255, 255, 255)


@dataclass
class View:
    name: str  # file stem
    title: str
    picture: np.ndarray  # RGB uint8
    caption: str


def _enlarged(image: np.ndarray) -> tuple[np.ndarray, float]:
    factor = max(1.0, MIN_VIEW_SIDE / max(image.shape[:2]))
    if factor == 1.0:
        return image.copy(), 1.0
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST), factor


def _boxes(canvas: np.ndarray, boxes: Tensor, factor: float, color, thickness: int = 1) -> None:
    for x1, y1, x2, y2 in (boxes.float() * factor).round().int().tolist():
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)


def _level_colors(count: int) -> list[tuple[int, int, int]]:
    return [tuple(int(c) for c in cv2.cvtColor(np.uint8([[[int(180 * k / max(count, 1)), 220, 255]]]),
                                               cv2.COLOR_HSV2RGB)[0, 0]) for k in range(count)]


def input_view(inspection) -> View:
    h, w = inspection.resized_size
    picture, _ = _enlarged(as_rgb_array(inspection.display))
    settings = inspection.settings
    return View("input", "The input as the model sees it", picture,
                f"{inspection.original_size[1]}x{inspection.original_size[0]} (width x height) resized by "
                f"{inspection.scale[1]:.3f} x {inspection.scale[0]:.3f} to {w}x{h}, normalised by the ImageNet "
                f"mean and std (shown undone), zero-padded to {settings.get('padded_width')}x"
                f"{settings.get('padded_height')} for the backbone.")


def anchor_views(inspection, per_axis: int = 3) -> list[View]:
    """Per level: a dot at every anchor location (every k-th where dense) and every anchor of a 3 x 3 sample of
    locations drawn at its size."""
    views = []
    base = as_rgb_array(inspection.display)
    for (name, anchors), per_location in zip(inspection.anchors.items(), inspection.anchors_per_location):
        feature = inspection.features.get(name)
        rows, cols = (int(feature.shape[-2]), int(feature.shape[-1])) if feature is not None else (0, 0)
        picture, factor = _enlarged(base)
        grid = anchors.view(rows, cols, per_location, 4) if rows * cols * per_location == len(anchors) else None
        if grid is None:
            views.append(View(f"anchors_{name}", f"Anchors, level {name}", picture,
                              f"{len(anchors)} anchors (not on a regular grid: not drawn)."))
            continue
        centres = (grid[..., :2] + grid[..., 2:]) / 2
        step = max(1, math.ceil(max(rows, cols) / 40))
        for y in range(0, rows, step):
            for x in range(0, cols, step):
                cx, cy = (centres[y, x, 0] * factor).round().int().tolist()
                cv2.circle(picture, (cx, cy), 1, (255, 255, 0), -1)
        colors = _level_colors(per_location)
        picks = [(round((i + 0.5) * rows / per_axis - 0.5), round((j + 0.5) * cols / per_axis - 0.5))
                 for i in range(per_axis) for j in range(per_axis)]
        for y, x in picks:
            for k in range(per_location):
                _boxes(picture, grid[y, x, k:k + 1], factor, colors[k])
        widths, heights = grid[0, 0, :, 2] - grid[0, 0, :, 0], grid[0, 0, :, 3] - grid[0, 0, :, 1]
        shapes = ", ".join(f"{int(w)}x{int(h)}" for w, h in zip(widths.tolist(), heights.tolist()))
        stride_y = inspection.settings.get("padded_height", 0) // max(rows, 1)
        stride_x = inspection.settings.get("padded_width", 0) // max(cols, 1)
        views.append(View(f"anchors_{name}", f"Anchors, level {name}", picture,
                          f"{rows}x{cols} locations x {per_location} anchors = {len(anchors)}, stride "
                          f"{stride_y}x{stride_x}; anchor sizes (w x h) {shapes}. Dots: location centres"
                          f"{f' (every {step}th)' if step > 1 else ''}; boxes: all anchors of {per_axis * per_axis} "
                          f"locations."))
    return views


def objectness_views(inspection) -> list[View]:
    views = []
    base = as_rgb_array(inspection.display)
    h, w = inspection.resized_size
    for (name, probabilities), per_location in zip(inspection.objectness.items(), inspection.anchors_per_location):
        feature = inspection.features.get(name)
        rows, cols = int(feature.shape[-2]), int(feature.shape[-1])
        heat = probabilities.view(rows, cols, per_location).max(-1).values
        padded_h, padded_w = inspection.settings["padded_height"], inspection.settings["padded_width"]
        full = cv2.resize(heat.numpy().astype(np.float32), (padded_w, padded_h), interpolation=cv2.INTER_NEAREST)
        colored = cv2.applyColorMap((full[:h, :w] * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
        picture, _ = _enlarged(cv2.addWeighted(base, 0.45, colored, 0.55, 0))
        views.append(View(f"objectness_{name}", f"Objectness, level {name}", picture,
                          f"the most confident of the {per_location} anchors at each of {rows}x{cols} locations "
                          f"(sigmoid of the RPN's logits; blue 0, red 1): max {float(heat.max()):.3f}; "
                          f"{int((probabilities > 0.5).sum())} of {len(probabilities)} anchors above 0.5."))
    return views


def proposal_views(inspection) -> list[View]:
    base = as_rgb_array(inspection.display)
    colors = _level_colors(len(inspection.anchors))
    before, _ = _enlarged(base)
    _, factor = _enlarged(base)
    order = inspection.proposal_scores_before_nms.argsort(descending=True)[:MAX_BOXES]
    for i in order.tolist():
        _boxes(before, inspection.proposals_before_nms[i:i + 1], factor,
               colors[int(inspection.proposal_levels_before_nms[i])])
    after, _ = _enlarged(base)
    top = inspection.proposal_scores.argsort(descending=True)[:MAX_BOXES]
    _boxes(after, inspection.proposals[top], factor, POSITIVE)
    settings = inspection.settings
    kept_scores = inspection.proposal_scores[top]
    return [
        View("proposals_before_nms", "Proposals before NMS", before,
             f"{len(inspection.proposals_before_nms)} candidates: the {settings['rpn_pre_nms_top_n']} most objectlike "
             f"anchors of each level, decoded and clipped; the {len(order)} best drawn, coloured by level."),
        View("proposals_after_nms", "Proposals after NMS", after,
             f"{len(inspection.proposals)} proposals after NMS per level at IoU {settings['rpn_nms_thresh']} "
             f"(at most {settings['rpn_post_nms_top_n']}): what the RoI heads receive; the {len(top)} best drawn"
             + (f" (objectness {float(kept_scores.min()):.3f} to {float(kept_scores.max()):.3f})." if len(top)
                else ".")),
    ]


def target_views(inspection, class_names: Sequence[str], negatives: int = 60, seed: int = 0) -> list[View]:
    if inspection.target is None:
        return []
    base = as_rgb_array(inspection.display)
    gt = inspection.target["boxes"]
    truth, factor = _enlarged(base)
    truth = draw_instances(truth, gt * factor, inspection.target["labels"], None, None, class_names)
    views = [View("ground_truth", "Ground truth (resized)", truth,
                  f"{len(gt)} objects of the annotation, in the model's resized frame.")]
    anchors = torch.cat(list(inspection.anchors.values()))
    labels = torch.cat(list(inspection.anchor_labels.values()))
    positive, negative = torch.where(labels == 1)[0], torch.where(labels == 0)[0]
    shown = negative[torch.randperm(len(negative), generator=torch.Generator().manual_seed(seed))[:negatives]]
    picture, _ = _enlarged(base)
    _boxes(picture, anchors[shown], factor, NEGATIVE)
    _boxes(picture, anchors[positive], factor, POSITIVE, 2)
    _boxes(picture, gt, factor, GROUND_TRUTH, 2)
    s = inspection.settings
    views.append(View("anchor_matches", "Anchors matched to the ground truth", picture,
                      f"{len(positive)} positive anchors (IoU >= {s['rpn_fg_iou_thresh']} with an object, or an "
                      f"object's best), {len(negative)} negative (IoU < {s['rpn_bg_iou_thresh']}), "
                      f"{int((labels == -1).sum())} ignored. Green: all positives; red: {len(shown)} negatives "
                      f"at random; white: the objects."))
    rois, roi_labels = inspection.sampled_rois, inspection.sampled_labels
    positive, negative = torch.where(roi_labels > 0)[0], torch.where(roi_labels == 0)[0]
    shown = negative[torch.randperm(len(negative), generator=torch.Generator().manual_seed(seed))[:negatives]]
    picture, _ = _enlarged(base)
    _boxes(picture, rois[shown], factor, NEGATIVE)
    _boxes(picture, rois[positive], factor, POSITIVE, 2)
    _boxes(picture, gt, factor, GROUND_TRUTH, 2)
    views.append(View("sampled_rois", "RoIs sampled for the box head", picture,
                      f"{len(rois)} RoIs sampled from the proposals and the objects: {len(positive)} foreground "
                      f"(IoU >= {s['box_fg_iou_thresh']} with their matched object), {len(negative)} background. "
                      f"Green: foreground; red: {len(shown)} background at random; white: the objects."))
    return views


def detection_views(inspection, class_names: Sequence[str]) -> list[View]:
    base = as_rgb_array(inspection.display)
    scores, classes = inspection.class_scores[:, 1:].max(1)
    classes = classes + 1
    best = inspection.refined_boxes[torch.arange(len(classes)), classes]
    order = scores.argsort(descending=True)[:MAX_BOXES]
    before, factor = _enlarged(base)
    for i in order.flip(0).tolist():  # the best drawn last, on top
        _boxes(before, best[i:i + 1], factor, class_color(int(classes[i])))
    detections = inspection.detections_resized
    after, _ = _enlarged(base)
    after = draw_instances(after, detections["boxes"] * factor, detections["labels"], detections["scores"], None,
                           class_names)
    k, c = inspection.class_scores.shape
    return [
        View("detections_before_threshold", "Box head: refined boxes before the threshold", before,
             f"{k} proposals x {c - 1} classes = {k * (c - 1)} candidates, each proposal's box refined for each "
             f"class; {inspection.candidates_above_thresh} score above {inspection.score_thresh}. Drawn: the refined "
             f"box of each proposal's best class, coloured by class, for the {len(order)} best proposals"
             + (f" (scores {float(scores[order].min()):.2f} to {float(scores[order].max()):.2f})." if len(order)
                else ".")),
        View("detections_after_nms", "Detections after the threshold and per-class NMS", after,
             f"{len(detections['boxes'])} detections: score > {inspection.score_thresh}, boxes of at least 0.01 px, "
             f"NMS per class at IoU {inspection.nms_thresh}, the best {inspection.settings['detections_per_img']} "
             f"kept (resized frame)."),
    ]


def mask_logit_view(inspection, class_names: Sequence[str], count: int = 16) -> Optional[View]:
    if not inspection.has_masks:
        return None
    logits = inspection.mask_logits[:count]
    cells = []
    for logit, label, score in zip(logits, inspection.output["labels"], inspection.output["scores"]):
        colored = cv2.applyColorMap((logit.sigmoid().numpy() * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
        cell = cv2.resize(colored, (112, 112), interpolation=cv2.INTER_NEAREST)
        name = class_name(class_names, label)
        cv2.putText(cell, f"{name} {float(score):.2f}", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1,
                    cv2.LINE_AA)
        cells.append(cell)
    side = inspection.mask_logits.shape[-1]
    if not cells:
        return View("mask_logits", "Mask logits", np.zeros((112, 112, 3), np.uint8),
                    "no detection: no mask logits.")
    return View("mask_logits", "Mask logits", image_grid(cells, columns=4, cell_size=112),
                f"{side}x{side} logits of each detection's class (sigmoid shown; blue 0, red 1): the first "
                f"{len(cells)} of {len(inspection.mask_logits)} detections, best first.")


def keypoint_heatmap_view(inspection, class_names: Sequence[str], keypoint_names: Sequence[str] = (),
                          count: int = 4) -> Optional[View]:
    """A row per detection (the best ``count``): each keypoint's heatmap as the loss sees it (a softmax over its
    cells), the predicted cell ringed."""
    if not inspection.has_keypoints:
        return None
    logits = inspection.keypoint_logits[:count]
    if not len(logits):
        return View("keypoint_heatmaps", "Keypoint heatmaps", np.zeros((112, 112, 3), np.uint8),
                    "no detection: no keypoint heatmaps.")
    side, keypoints = logits.shape[-1], logits.shape[1]
    cells = []
    for maps, label, score in zip(logits, inspection.output["labels"], inspection.output["scores"]):
        probabilities = maps.reshape(keypoints, -1).softmax(dim=1).reshape(maps.shape)
        for k, heatmap in enumerate(probabilities):
            scaled = (heatmap / heatmap.max().clamp(min=1e-12)).sqrt().numpy()  # the root shows the spread
            colored = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
            cell = np.ascontiguousarray(cv2.resize(colored, (112, 112), interpolation=cv2.INTER_NEAREST))
            best = int(heatmap.argmax())
            y, x = divmod(best, side)
            cv2.circle(cell, (int((x + 0.5) * 112 / side), int((y + 0.5) * 112 / side)), 6, (255, 255, 255), 1,
                       cv2.LINE_AA)
            name = keypoint_names[k] if k < len(keypoint_names) else f"keypoint {k}"
            if k == 0:  # the row's first cell says which detection it is
                name = f"{class_name(class_names, label)} {float(score):.2f}: {name}"
            cv2.putText(cell, name, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
            cells.append(cell)
    return View("keypoint_heatmaps", "Keypoint heatmaps", image_grid(cells, columns=keypoints, cell_size=112),
                f"{side}x{side} heatmaps of the first {len(logits)} of {len(inspection.keypoint_logits)} detections "
                f"(a row each, best first), shown as the training loss sees them: a softmax over each map's cells, "
                f"scaled to its peak, square root (blue 0, red the peak). The ring is the best cell: the keypoint, "
                f"once the map is resized (bicubic) to the box.")


def overlay_view(inspection, class_names: Sequence[str], score_thresh: float = 0.5,
                 skeleton: Optional[Sequence[tuple[int, int]]] = None) -> View:
    output = inspection.output
    picture, factor = _enlarged(as_rgb_array(inspection.image))
    keep = output["scores"] >= score_thresh
    masks = output.get("masks")
    if masks is not None and factor != 1.0:
        masks = torch.nn.functional.interpolate(masks[keep], size=picture.shape[:2], mode="bilinear")
    elif masks is not None:
        masks = masks[keep]
    picture = draw_instances(picture, output["boxes"][keep] * factor, output["labels"][keep], output["scores"][keep],
                             masks, class_names)
    if "keypoints" in output:
        draw_keypoints(picture, output["keypoints"][keep][..., :2] * factor, output["labels"][keep], skeleton)
    kept = int((output["scores"] >= score_thresh).sum())
    masks = ("masks pasted into the image and cut at 0.5" if "masks" in output
             else "with their keypoints" if "keypoints" in output else "no masks (a box-only model)")
    return View("overlay", "The final output", picture,
                f"{len(output['boxes'])} detections mapped back to the {inspection.original_size[1]}x"
                f"{inspection.original_size[0]} input; the {kept} scoring at least {score_thresh} drawn, {masks}.")


def inspection_views(inspection, class_names: Sequence[str], keypoint_names: Sequence[str] = (),
                     skeleton: Optional[Sequence[tuple[int, int]]] = None) -> list[View]:
    """Every view of the inspection, in the order of the model's stages (``keypoint_names`` and ``skeleton`` for
    a Keypoint R-CNN's)."""
    views = [input_view(inspection), *anchor_views(inspection), *objectness_views(inspection),
             *proposal_views(inspection), *target_views(inspection, class_names),
             *detection_views(inspection, class_names)]
    masks = mask_logit_view(inspection, class_names)
    if masks is not None:
        views.append(masks)
    heatmaps = keypoint_heatmap_view(inspection, class_names, keypoint_names)
    if heatmaps is not None:
        views.append(heatmaps)
    views.append(overlay_view(inspection, class_names, skeleton=skeleton))
    return views
