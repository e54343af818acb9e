"""Pastes per-detection mask probabilities (``[N, 1, M, M]``, M = 28) into full images, all at once.

Convention (torchvision's, from Detectron): each mask is zero-padded by one pixel and its box scaled by
``(M + 2) / M`` about the centre so the padding lands just outside the box; corners are truncated to int64 and
the box covers pixels ``x0..x2`` inclusive (the ``+1`` rule): ``w = max(x2 - x0 + 1, 1)``. The padded mask is
resized bilinearly (``align_corners=False``) to ``h x w`` and written at ``(y0, x0)``, clipped to the image.

Bilinear resizing is separable, so for every detection it is ``R_y @ mask @ R_x^T`` with sparse interpolation
matrices ``R_y [H, M+2]`` and ``R_x [W, M+2]`` (two weights per row, rows outside the box all zero). That turns
the per-box loop into two batched matrix products; the horizontal pass runs first, as in PyTorch's kernel.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

#: Pasted masks are probabilities; a pixel belongs to the object above this (COCO evaluation, drawing, tiling).
MASK_THRESHOLD = 0.5


def expand_boxes(boxes: Tensor, scale: float) -> Tensor:
    """Scales xyxy boxes by ``scale`` about their centres."""
    w_half = (boxes[:, 2] - boxes[:, 0]) * 0.5 * scale
    h_half = (boxes[:, 3] - boxes[:, 1]) * 0.5 * scale
    x_c = (boxes[:, 2] + boxes[:, 0]) * 0.5
    y_c = (boxes[:, 3] + boxes[:, 1]) * 0.5
    return torch.stack((x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half), dim=1)


def interpolation_matrices(start: Tensor, length: Tensor, image_size: int, source_size: int,
                           dtype: torch.dtype) -> Tensor:
    """``[N, image_size, source_size]``: row p of box n holds the bilinear weights with which output pixel p
    (inside ``[start, start + length)``, else zero) reads the ``source_size`` samples.

    Source coordinate of output index j (``align_corners=False``): ``max((j + 0.5) * source_size / length - 0.5, 0)``.
    """
    device = start.device
    j = torch.arange(image_size, device=device)[None, :] - start[:, None]
    inside = (j >= 0) & (j < length[:, None])
    scale = torch.tensor(source_size, dtype=dtype, device=device) / length.to(dtype)
    src = ((j.to(dtype) + 0.5) * scale[:, None] - 0.5).clamp(min=0)
    low = src.floor().to(torch.int64).clamp(max=source_size - 1)
    high = torch.where(low < source_size - 1, low + 1, low)
    fraction = src - low.to(dtype)
    high_weight = fraction * inside
    low_weight = (1 - fraction) * inside
    matrices = torch.zeros(start.shape[0], image_size, source_size, dtype=dtype, device=device)
    matrices.scatter_add_(2, low[..., None], low_weight[..., None])
    matrices.scatter_add_(2, high[..., None], high_weight[..., None])
    return matrices


def paste_masks_in_image(masks: Tensor, boxes: Tensor, img_shape: tuple[int, int], padding: int = 1) -> Tensor:
    """``masks [N, 1, M, M]`` and ``boxes [N, 4]`` (xyxy, image pixels) -> ``[N, 1, H, W]`` in the masks' dtype."""
    im_h, im_w = img_shape[0], img_shape[1]
    if not torch.jit.is_tracing() and masks.shape[0] == 0:  # traced: the same products give an empty result
        return masks.new_empty((0, 1, im_h, im_w))
    m = masks.shape[-1]
    padded = F.pad(masks, (padding,) * 4)[:, 0]
    boxes = expand_boxes(boxes, float(m + 2 * padding) / m).to(torch.int64)
    x0, y0, x1, y1 = boxes.unbind(1)
    rows = interpolation_matrices(y0, (y1 - y0 + 1).clamp(min=1), im_h, padded.shape[-2], masks.dtype)
    cols = interpolation_matrices(x0, (x1 - x0 + 1).clamp(min=1), im_w, padded.shape[-1], masks.dtype)
    if torch.jit.is_scripting():  # a scripted model runs without autocast
        return resample(rows, padded, cols)
    return resample_full_precision(rows, padded, cols)


def resample(rows: Tensor, padded: Tensor, cols: Tensor) -> Tensor:
    """``rows @ padded @ cols^T`` per detection, horizontal pass first: ``[N, 1, H, W]``."""
    return torch.bmm(rows, torch.bmm(padded, cols.transpose(1, 2)))[:, None]


@torch.jit.unused
def resample_full_precision(rows: Tensor, padded: Tensor, cols: Tensor) -> Tensor:
    """:func:`resample` in the masks' own precision, even in fast mode (autocast off)."""
    with torch.autocast(rows.device.type, enabled=False):
        return resample(rows, padded, cols)
