"""One image's errors for the report: the objects (left) and the detections (right), side by side.

Objects are green where a detection (score >= the report's threshold) found them and grey where none did (missed);
detections are coloured by what the error analysis called them (true positive green, each error type its colour of
:data:`~visualization.report_plots.ERROR_COLORS`) and captioned ``type class score``. Boxes are COCO's
``[x, y, w, h]`` in image pixels.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from .report_plots import ERROR_COLORS

#: Small images are enlarged to this short side first, so that captions stay readable.
MIN_SIDE = 320
GAP = 8


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _draw_box(canvas: np.ndarray, box: Sequence[float], scale: float, color: tuple[int, int, int], caption: str,
              thickness: int) -> None:
    x, y, w, h = (float(v) * scale for v in box)
    top_left, bottom_right = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
    cv2.rectangle(canvas, top_left, bottom_right, color, thickness, cv2.LINE_AA)
    if caption:
        (text_w, text_h), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        y_text = max(top_left[1], text_h + 4)
        cv2.rectangle(canvas, (top_left[0], y_text - text_h - 4), (top_left[0] + text_w + 4, y_text), color, -1)
        cv2.putText(canvas, caption, (top_left[0] + 2, y_text - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)


def error_view(image: np.ndarray, objects: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]
               ) -> np.ndarray:
    """``objects``: ``{"bbox", "name", "found"}``; ``detections``: ``{"bbox", "name", "score", "kind"}``. Returns
    an RGB picture twice as wide as the (possibly enlarged) image."""
    scale = max(1.0, MIN_SIDE / min(image.shape[:2]))
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    thickness = max(1, round(min(image.shape[:2]) / 250))
    left, right = image.copy(), image.copy()
    for obj in objects:
        color = ERROR_COLORS["tp"] if obj["found"] else ERROR_COLORS["missed"]
        _draw_box(left, obj["bbox"], scale, _rgb(color), obj["name"] if obj["found"] else f"missed {obj['name']}",
                  thickness)
    for det in sorted(detections, key=lambda d: d["score"]):
        _draw_box(right, det["bbox"], scale, _rgb(ERROR_COLORS[det["kind"]]),
                  f"{det['kind']} {det['name']} {det['score']:.2f}", thickness)
    gap = np.full((image.shape[0], GAP, 3), 255, np.uint8)
    return np.concatenate([left, gap, right], axis=1)
