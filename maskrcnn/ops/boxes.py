"""Box geometry: areas, IoU, format conversion, clipping and size filtering.

Convention: boxes are ``(x1, y1, x2, y2)`` in pixels ("xyxy") unless a ``fmt`` says otherwise. Width is ``x2 - x1``
(no ``+1``), as in torchvision. Integer and half-precision inputs are widened before any product, so that areas
of large integer boxes do not overflow (int16/uint8 -> int32, float16/bfloat16 -> float32).
"""

import torch
from torch import Tensor

AXIS_ALIGNED_FORMATS = ("xyxy", "xywh", "cxcywh")


@torch.jit.unused
def _not_a_tensor(name: str, value: object) -> str:
    return f"{name} must be a torch.Tensor, got {type(value).__name__}"


def _check_boxes(boxes: Tensor, name: str = "boxes") -> None:
    if not torch.jit.is_scripting() and not isinstance(boxes, Tensor):
        raise TypeError(_not_a_tensor(name, boxes))
    if boxes.dim() < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [..., 4], got {list(boxes.shape)}")


def _check_format(fmt: str) -> None:
    if fmt not in ["xyxy", "xywh", "cxcywh"]:  # AXIS_ALIGNED_FORMATS, spelled out for TorchScript
        raise ValueError(f"unsupported box format '{fmt}'; expected one of ('xyxy', 'xywh', 'cxcywh')")


def upcast(t: Tensor) -> Tensor:
    """Widens small dtypes so products cannot overflow: floats to >= float32, integers to >= int32."""
    if t.is_floating_point():
        return t if t.dtype == torch.float32 or t.dtype == torch.float64 else t.float()
    return t if t.dtype == torch.int32 or t.dtype == torch.int64 else t.int()


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Converts boxes between "xyxy" (corners), "xywh" (top-left corner and size) and "cxcywh" (centre and size)."""
    _check_format(in_fmt)
    _check_format(out_fmt)
    _check_boxes(boxes)
    if in_fmt == out_fmt:
        return boxes.clone()
    # Every conversion goes through xyxy, the hub format; the arithmetic matches torchvision's term by term.
    if in_fmt == "xywh":
        x, y, w, h = boxes.unbind(-1)
        boxes = torch.stack((x, y, x + w, y + h), dim=-1)
    elif in_fmt == "cxcywh":
        cx, cy, w, h = boxes.unbind(-1)
        boxes = torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)
    if out_fmt == "xywh":
        x1, y1, x2, y2 = boxes.unbind(-1)
        boxes = torch.stack((x1, y1, x2 - x1, y2 - y1), dim=-1)
    elif out_fmt == "cxcywh":
        x1, y1, x2, y2 = boxes.unbind(-1)
        boxes = torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)
    return boxes


def box_area(boxes: Tensor, fmt: str = "xyxy") -> Tensor:
    """Area of each box, ``(x2 - x1) * (y2 - y1)``; shape ``[...]`` for boxes ``[..., 4]``."""
    _check_format(fmt)
    _check_boxes(boxes)
    boxes = upcast(boxes)
    if fmt == "xyxy":
        return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return boxes[..., 2] * boxes[..., 3]


def _corners(boxes: Tensor, fmt: str) -> tuple[Tensor, Tensor]:
    """Top-left and bottom-right corners ``[..., 2]`` of boxes given in ``fmt``."""
    if fmt == "xyxy":
        return boxes[..., :2], boxes[..., 2:]
    if fmt == "xywh":
        return boxes[..., :2], boxes[..., :2] + boxes[..., 2:]
    half = boxes[..., 2:] / 2
    return boxes[..., :2] - half, boxes[..., :2] + half


def box_iou(boxes1: Tensor, boxes2: Tensor, fmt: str = "xyxy") -> Tensor:
    """Pairwise intersection over union: ``[..., N, 4]`` x ``[..., M, 4]`` -> ``[..., N, M]``.

    Union is ``area1 + area2 - intersection``, evaluated in that order (it decides the last bit).
    """
    _check_format(fmt)
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    area1 = box_area(boxes1, fmt)
    area2 = box_area(boxes2, fmt)
    lt1, rb1 = _corners(boxes1, fmt)
    lt2, rb2 = _corners(boxes2, fmt)
    lt = torch.max(lt1[..., :, None, :], lt2[..., None, :, :])
    rb = torch.min(rb1[..., :, None, :], rb2[..., None, :, :])
    wh = upcast(rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[..., :, None] + area2[..., None, :] - inter
    return inter / union


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clamps x to ``[0, width]`` and y to ``[0, height]``; ``size`` is ``(height, width)``."""
    _check_boxes(boxes)
    height, width = size
    if torch.jit.is_tracing():  # the size is traced: clamp's bounds would become constants of the exported graph
        return clip_to_traced_size(boxes, height, width)
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x, y), dim=boxes.dim()).reshape(boxes.shape)


@torch.jit.unused
def clip_to_traced_size(boxes: Tensor, height: int, width: int) -> Tensor:
    """:func:`clip_boxes_to_image` with the bounds as tensors (while tracing for export, sizes are traced tensors;
    typed ``int`` for TorchScript, which never runs this)."""
    zero = torch.zeros((), dtype=boxes.dtype, device=boxes.device)
    x = torch.minimum(torch.maximum(boxes[..., 0::2], zero), torch.as_tensor(width).to(boxes.dtype))
    y = torch.minimum(torch.maximum(boxes[..., 1::2], zero), torch.as_tensor(height).to(boxes.dtype))
    return torch.stack((x, y), dim=boxes.dim()).reshape(boxes.shape)


def remove_small_boxes(boxes: Tensor, min_size: float) -> Tensor:
    """Indices of the boxes whose width and height are both ``>= min_size``."""
    _check_boxes(boxes)
    widths = boxes[..., 2] - boxes[..., 0]
    heights = boxes[..., 3] - boxes[..., 1]
    return torch.where((widths >= min_size) & (heights >= min_size))[0]
