"""Copy-paste augmentation (Ghiasi et al. 2021), as torchvision's references do it (``SimpleCopyPaste``).

A random subset of another sample's objects is pasted onto this sample: the source image is resized to this one's
size if it differs, its selected objects' union becomes an alpha mask (blurred at the edges when ``blending``), the
pixels are mixed by it, this sample's masks lose what the paste covers, objects left with no pixel are removed with
their box and label, and every box of an occluded object is recomputed from what remains of its mask. Boxes follow
the datasets' convention: ``x2 = last column + 1`` (pixel edges).

torchvision pastes between the images of a batch (each from the next). Here the source is another sample of the
dataset drawn with the sample's own generator (:class:`CopyPasteDataset`), so that a seeded run (and a resumed one)
repeats exactly, whatever the batch composition; the result per pair is the same operation.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from dataset.wrapped import WrappedDataset

#: Gaussian blur of the alpha mask's edges (torchvision's: kernel 5, sigma 2).
BLUR_KERNEL, BLUR_SIGMA = 5, 2.0


def boxes_from_masks(masks: Tensor) -> Tensor:
    """``[N, 4]`` xyxy boxes around the masks' pixels, ``x2 = last column + 1``; zeros for an empty mask."""
    if masks.numel() == 0:
        return torch.zeros((len(masks), 4), dtype=torch.float32)
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    height, width = masks.shape[-2:]
    y_index = torch.arange(height)[None].expand(len(masks), -1)
    x_index = torch.arange(width)[None].expand(len(masks), -1)
    big = max(height, width) + 1
    y1 = torch.where(rows, y_index, big).min(1).values
    y2 = torch.where(rows, y_index, -1).max(1).values + 1
    x1 = torch.where(cols, x_index, big).min(1).values
    x2 = torch.where(cols, x_index, -1).max(1).values + 1
    boxes = torch.stack([x1, y1, x2, y2], 1).float()
    return torch.where(masks.flatten(1).any(1, keepdim=True), boxes, torch.zeros_like(boxes))


def _gaussian_blur(alpha: Tensor) -> Tensor:
    x = torch.arange(BLUR_KERNEL, dtype=torch.float32) - BLUR_KERNEL // 2
    kernel = torch.exp(-x ** 2 / (2 * BLUR_SIGMA ** 2))
    kernel = kernel / kernel.sum()
    padded = F.pad(alpha[None, None], [BLUR_KERNEL // 2] * 4, mode="reflect")
    blurred = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    return F.conv2d(blurred, kernel.view(1, 1, -1, 1))[0, 0]


def paste_objects(image: Tensor, target: dict[str, Any], source: Tensor, source_target: dict[str, Any],
                  blending: bool = True) -> tuple[Tensor, dict[str, Any]]:
    """``image`` ``[3, H, W]`` (float) with a random subset of ``source``'s objects pasted on; draws from torch's
    generator. Targets hold ``boxes``, ``labels``, ``masks`` (uint8 ``[N, H, W]``) and optionally ``area``,
    ``iscrowd``, which stay aligned with the objects."""
    if "keypoints" in target:
        raise ValueError("copy-paste does not carry keypoints (a pasted person would hide the keypoints under it): "
                         "train keypoints with --augment hflip, multiscale or lsj")
    count = len(source_target["masks"])
    if count == 0:
        return image, target
    chosen = torch.unique(torch.randint(0, count, (count,)))
    paste_masks = source_target["masks"][chosen]
    height, width = image.shape[-2:]
    if source.shape[-2:] != image.shape[-2:]:
        source = F.interpolate(source[None], size=(height, width), mode="bilinear", align_corners=False)[0]
        paste_masks = F.interpolate(paste_masks[:, None].float(), size=(height, width), mode="nearest")[:, 0]
        paste_masks = paste_masks.to(torch.uint8)
    covered = paste_masks.bool().any(0)  # bool: on uint8, any() stays uint8 and ~ would be a bitwise not
    alpha = covered.float()
    if blending:
        alpha = _gaussian_blur(alpha)
    image = image * (1 - alpha) + source * alpha
    remaining = target["masks"] * (~covered)
    kept = remaining.flatten(1).bool().any(1)
    occluded = remaining[kept]
    masks = torch.cat([occluded, paste_masks])
    out = dict(target)
    out["masks"] = masks
    out["boxes"] = boxes_from_masks(masks.bool()).to(target["boxes"].dtype)
    out["labels"] = torch.cat([target["labels"][kept], source_target["labels"][chosen]])
    if "area" in target:
        out["area"] = masks.flatten(1).sum(1).to(torch.float32)
    if "iscrowd" in target:
        out["iscrowd"] = torch.cat([target["iscrowd"][kept], source_target["iscrowd"][chosen]])
    valid = (out["boxes"][:, 2:] > out["boxes"][:, :2]).all(1)  # a pasted mask shrunk to nothing by resizing
    for key in ("masks", "boxes", "labels", "area", "iscrowd"):
        if key in out:
            out[key] = out[key][valid]
    return image, out


class CopyPasteDataset(WrappedDataset):
    """Item ``i``: ``dataset[i]`` with objects of ``dataset[j]`` pasted on, ``j`` drawn from torch's generator (seeded
    per item by ``EpochSeededDataset``). The other attributes are the wrapped dataset's."""

    def __init__(self, dataset: Dataset, blending: bool = True) -> None:
        super().__init__(dataset)
        self.blending = blending

    def __getitem__(self, index: int):
        image, target = self.dataset[index]
        source_index = int(torch.randint(0, len(self.dataset), ()))
        source, source_target = self.dataset[source_index]
        return paste_objects(image, target, source, source_target, self.blending)


def augmented_dataset(dataset: Dataset, policy: str) -> Dataset:
    """``dataset`` as the policy wants it: wrapped in :class:`CopyPasteDataset` for ``copypaste`` (its per-sample
    transforms being LSJ), as it is otherwise."""
    return CopyPasteDataset(dataset) if policy == "copypaste" else dataset
