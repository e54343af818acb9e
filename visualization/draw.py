"""Drawing instances on an image with OpenCV: translucent masks, box outlines, and "name score" captions.

Images are ``H x W x 3`` uint8 RGB arrays (or float ``3 x H x W`` tensors in [0, 1], converted). Boxes are
``(x1, y1, x2, y2)`` pixels; masks are ``N x H x W`` (uint8 0/1, bool, or float probabilities, cut at 0.5).
Captions are white text on a box of the class colour darkened (outlined in black when large), so they read on light
and dark images alike.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
from torch import Tensor

from dataset.keypoints import COCO_PERSON_SKELETON

from .colors import class_color

MASK_ALPHA = 0.45


def as_rgb_array(image: np.ndarray | Tensor) -> np.ndarray:
    if isinstance(image, Tensor):
        image = image.detach().cpu()
        if image.is_floating_point():
            image = image.mul(255).round().clamp(0, 255)
        return image.byte().permute(1, 2, 0).numpy().copy()
    return np.ascontiguousarray(image, dtype=np.uint8).copy()


def _as_numpy(values) -> Optional[np.ndarray]:
    if values is None:
        return None
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def draw_instances(image: np.ndarray | Tensor, boxes=None, labels=None, scores=None, masks=None,
                   class_names: Optional[Sequence[str]] = None, line_width: int = 0, min_side: int = 0) -> np.ndarray:
    """A copy of ``image`` (RGB uint8) with the instances drawn on it. ``line_width=0`` picks one from the size.

    ``min_side``: a smaller image is enlarged first, so that its short side has this many pixels and the captions
    stay readable (the drawing is then larger than the image; boxes and masks are scaled with it).
    """
    canvas = as_rgb_array(image)
    boxes, labels, scores, masks = (_as_numpy(v) for v in (boxes, labels, scores, masks))
    if min_side and min(canvas.shape[:2]) < min_side:
        canvas, boxes, masks = _enlarged(canvas, boxes, masks, min_side / min(canvas.shape[:2]))
    height, width = canvas.shape[:2]
    count = len(boxes) if boxes is not None else (len(masks) if masks is not None else 0)
    labels = labels if labels is not None else np.zeros(count, dtype=np.int64)
    thickness = line_width or max(1, round(min(height, width) / 200))
    font_scale = max(0.35, min(height, width) / 900)
    if masks is not None and len(masks):
        if masks.ndim == 4:  # the model's N x 1 x H x W probabilities
            masks = masks[:, 0]
        binary = masks > 0.5 if masks.dtype.kind == "f" else masks.astype(bool)
        overlay = canvas.copy()
        for mask, label in zip(binary, labels):
            overlay[mask] = class_color(int(label))
        canvas = cv2.addWeighted(overlay, MASK_ALPHA, canvas, 1 - MASK_ALPHA, 0)
        for mask, label in zip(binary, labels):  # crisp outlines keep touching objects apart
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(canvas, contours, -1, class_color(int(label)), 1, cv2.LINE_AA)
    if boxes is None:
        return canvas
    names = [class_name(class_names, label) for label in labels]
    for box, label in zip(boxes, labels):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), class_color(int(label)), thickness, cv2.LINE_AA)
    # the most confident instance chooses its caption's place first
    order = np.argsort(-scores, kind="stable") if scores is not None else np.arange(len(boxes))
    taken: list[tuple[int, int, int, int]] = []
    for i in order:
        caption = names[i] if scores is None else f"{names[i]} {float(scores[i]):.2f}"
        _caption(canvas, caption, boxes[i], class_color(int(labels[i])), font_scale, taken)
    return canvas


def _enlarged(canvas: np.ndarray, boxes: Optional[np.ndarray], masks: Optional[np.ndarray], factor: float):
    size = (round(canvas.shape[1] * factor), round(canvas.shape[0] * factor))
    canvas = cv2.resize(canvas, size, interpolation=cv2.INTER_LINEAR)
    if boxes is not None:
        boxes = boxes * factor
    if masks is not None and len(masks):
        flat = masks.reshape(-1, *masks.shape[-2:]).astype(np.float32)
        masks = np.stack([cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) for m in flat])
    return canvas, boxes, masks


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def caption_place(box, size: tuple[int, int], canvas_size: tuple[int, int],
                  taken: Sequence[tuple[int, int, int, int]]) -> Optional[tuple[int, int, int, int]]:
    """Where a caption of ``size`` (w, h) goes for ``box``: the first of above the box, inside its top, below it,
    inside its bottom that stays on the canvas and covers no caption in ``taken``; failing those, the free place
    nearest the box's top-left corner near the box. None when there is no room left there (the caption is left out:
    captions never cover each other)."""
    text_w, text_h = size
    height, width = canvas_size
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    x = min(max(x1, 0), max(width - text_w, 0))
    candidates = [(x, y1 - text_h), (x, y1), (x, y2), (x, y2 - text_h)]
    for left, top in candidates:
        rect = (left, top, left + text_w, top + text_h)
        if top >= 0 and top + text_h <= height and not any(_overlaps(rect, t) for t in taken):
            return rect
    # then the free place nearest the box's corner, within a few captions of the box (far away, it would be unclear
    # whose caption it is)
    step = max(2, text_h // 2)
    tops = range(max(y1 - 4 * text_h, 0), min(y2 + 4 * text_h, height - text_h) + 1, step)
    lefts = range(max(x1 - text_w, 0), min(x2 + text_w, width - text_w) + 1, step)
    spots = [(left, top) for top in tops for left in lefts]
    spots.sort(key=lambda p: (p[0] - x) ** 2 + (p[1] - y1) ** 2)
    for left, top in spots:
        rect = (left, top, left + text_w, top + text_h)
        if not any(_overlaps(rect, t) for t in taken):
            return rect
    return None


def _caption(canvas: np.ndarray, text: str, box, color: tuple[int, int, int], font_scale: float,
             taken: list[tuple[int, int, int, int]]) -> None:
    """Draw ``text`` where :func:`caption_place` puts it and add its rectangle to ``taken`` (skipped if no room)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (text_w, text_h), baseline = cv2.getTextSize(text, font, font_scale, 1)
    rect = caption_place(box, (text_w + 4, text_h + baseline + 2), canvas.shape[:2], taken)
    if rect is None:
        return
    taken.append(rect)
    dark = tuple(int(c * 0.55) for c in color)
    cv2.rectangle(canvas, (rect[0], rect[1]), (rect[2] - 1, rect[3] - 1), dark, -1)
    origin = (rect[0] + 1, rect[1] + text_h + 1)
    if font_scale >= 0.6:  # a black outline helps large text; at small sizes it smears the glyphs together
        cv2.putText(canvas, text, origin, font, font_scale, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, font, font_scale, (255, 255, 255), 1, cv2.LINE_AA)


def draw_keypoints(canvas: np.ndarray, keypoints, labels=None,
                   skeleton: Optional[Sequence[tuple[int, int]]] = None) -> np.ndarray:
    """Draws ``[N, K, 2 or 3]`` keypoints (canvas pixels) in place: the ``skeleton``'s lines (COCO's for 17
    keypoints when None) in the instance's class colour, then a white-ringed dot per keypoint in that keypoint's own
    colour (the same keypoint looks the same on every instance: a tip is told from a tail at a glance). With a third
    column (visibility), points at 0 are unlabelled: neither they nor their lines are drawn."""
    points = _as_numpy(keypoints)
    if points is None or not len(points):
        return canvas
    if skeleton is None and points.shape[1] == 17:
        skeleton = COCO_PERSON_SKELETON
    labels = _as_numpy(labels) if labels is not None else np.zeros(len(points), dtype=np.int64)
    radius = max(2, round(min(canvas.shape[:2]) / 110))
    for instance, label in zip(points, labels):
        xy = [(int(round(float(x))), int(round(float(y)))) for x, y in instance[:, :2]]
        labelled = instance[:, 2] > 0 if instance.shape[1] > 2 else np.ones(len(instance), dtype=bool)
        for a, b in skeleton or ():
            if labelled[a] and labelled[b]:
                cv2.line(canvas, xy[a], xy[b], (255, 255, 255), max(2, radius // 2) + 2, cv2.LINE_AA)
                cv2.line(canvas, xy[a], xy[b], class_color(int(label)), max(2, radius // 2), cv2.LINE_AA)
        for k, point in enumerate(xy):
            if not labelled[k]:
                continue
            cv2.circle(canvas, point, radius + 1, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, point, radius, keypoint_color(k), -1, cv2.LINE_AA)
    return canvas


def class_name(class_names: Optional[Sequence[str]], label) -> str:
    """``class_names[label]``, or the label as text where there is no such name."""
    label = int(label)
    return class_names[label] if class_names is not None and 0 <= label < len(class_names) else str(label)


def keypoint_color(index: int) -> tuple[int, int, int]:
    """RGB colour of keypoint ``index``: the class colours shifted along the hue circle, so they differ from the
    class colour of the first labels."""
    return class_color(index + 7)


def draw_prediction(image: np.ndarray | Tensor, prediction: dict, class_names: Optional[Sequence[str]] = None,
                    score_thresh: float = 0.5, min_side: int = 0,
                    skeleton: Optional[Sequence[tuple[int, int]]] = None) -> np.ndarray:
    """Draw a model output dict (``boxes``, ``labels``, ``scores``, ``masks``, ``keypoints``) above
    ``score_thresh``; keypoints joined by ``skeleton`` (0-based pairs; COCO's person skeleton for 17 when None)."""
    keep = prediction["scores"] >= score_thresh
    masks = prediction.get("masks")
    canvas = draw_instances(image, prediction["boxes"][keep], prediction["labels"][keep], prediction["scores"][keep],
                            masks[keep] if masks is not None else None, class_names, min_side=min_side)
    if "keypoints" in prediction:  # in the drawing's pixels (it may be enlarged)
        scale = canvas.shape[0] / as_rgb_array(image).shape[0]
        keypoints = _as_numpy(prediction["keypoints"][keep])
        draw_keypoints(canvas, keypoints[..., :2] * scale, prediction["labels"][keep], skeleton)
    return canvas


def draw_target(image: np.ndarray | Tensor, target: dict, class_names: Optional[Sequence[str]] = None,
                skeleton: Optional[Sequence[tuple[int, int]]] = None) -> np.ndarray:
    """Draw a dataset target dict (``boxes``, ``labels``, ``masks``, ``keypoints``), without scores; unlabelled
    keypoints (visibility 0) are left out, with their skeleton lines."""
    canvas = draw_instances(image, target.get("boxes"), target.get("labels"), None, target.get("masks"), class_names)
    if "keypoints" in target:
        draw_keypoints(canvas, target["keypoints"], target["labels"], skeleton)
    return canvas

