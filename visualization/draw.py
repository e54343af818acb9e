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
                   class_names: Optional[Sequence[str]] = None, line_width: int = 0) -> np.ndarray:
    """A copy of ``image`` (RGB uint8) with the instances drawn on it. ``line_width=0`` picks one from the size."""
    canvas = as_rgb_array(image)
    height, width = canvas.shape[:2]
    boxes, labels, scores, masks = (_as_numpy(v) for v in (boxes, labels, scores, masks))
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
    # lowest score first, so that where captions overlap the most confident one is drawn last, on top
    order = np.argsort(scores, kind="stable") if scores is not None else np.arange(len(boxes))
    for i in order:
        box, label = boxes[i], labels[i]
        color = class_color(int(label))
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        name = class_names[int(label)] if class_names is not None and 0 <= int(label) < len(class_names) \
            else str(int(label))
        caption = name if scores is None else f"{name} {float(scores[i]):.2f}"
        _caption(canvas, caption, x1, y1, color, font_scale)
    return canvas


def _caption(canvas: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int], font_scale: float) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (text_w, text_h), baseline = cv2.getTextSize(text, font, font_scale, 1)
    height, width = canvas.shape[:2]
    x = min(max(x, 0), max(width - text_w - 2, 0))
    top = y - text_h - baseline - 2
    if top < 0:  # no room above the box: put the caption inside it
        top = min(max(y, 0), max(height - text_h - baseline - 2, 0))
    dark = tuple(int(c * 0.55) for c in color)
    cv2.rectangle(canvas, (x, top), (x + text_w + 4, top + text_h + baseline + 2), dark, -1)
    origin = (x + 1, top + text_h + 1)
    if font_scale >= 0.6:  # a black outline helps large text; at small sizes it smears the glyphs together
        cv2.putText(canvas, text, origin, font, font_scale, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, font, font_scale, (255, 255, 255), 1, cv2.LINE_AA)


def draw_prediction(image: np.ndarray | Tensor, prediction: dict, class_names: Optional[Sequence[str]] = None,
                    score_thresh: float = 0.5) -> np.ndarray:
    """Draw a model output dict (``boxes``, ``labels``, ``scores``, ``masks``) above ``score_thresh``."""
    keep = prediction["scores"] >= score_thresh
    masks = prediction.get("masks")
    return draw_instances(image, prediction["boxes"][keep], prediction["labels"][keep], prediction["scores"][keep],
                          masks[keep] if masks is not None else None, class_names)


def draw_target(image: np.ndarray | Tensor, target: dict, class_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """Draw a dataset target dict (``boxes``, ``labels``, ``masks``), without scores."""
    return draw_instances(image, target.get("boxes"), target.get("labels"), None, target.get("masks"), class_names)

