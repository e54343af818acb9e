"""Model-side image transform: normalise, resize, batch; and the inverse mapping of predictions.

Conventions (torchvision's): images are float RGB in [0, 1], ``[3, H, W]``, any sizes. Normalise first (ImageNet
mean/std), then resize by ``scale = min(min_size / short side, max_size / long side)`` with
``interpolate(scale_factor=scale, recompute_scale_factor=True)`` (bilinear, ``align_corners=False``; masks nearest).
Boxes are scaled by the float32 ratio new/old size per axis. The batch is zero-padded to a multiple of
``size_divisible``. In training the target size is drawn from ``min_size`` with one ``torch.empty(1).uniform_``
per image, even when there is a single choice (so seeded runs consume the RNG as torchvision's do).
"""

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .image_list import ImageList
from .roi_heads.mask_paste import paste_masks_in_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_boxes(boxes: Tensor, original_size: tuple[int, int], new_size: tuple[int, int]) -> Tensor:
    """Scales xyxy boxes from an image of ``original_size (h, w)`` to ``new_size``; ratios are float32."""
    ratio_h = (torch.tensor(new_size[0], dtype=torch.float32, device=boxes.device)
               / torch.tensor(original_size[0], dtype=torch.float32, device=boxes.device))
    ratio_w = (torch.tensor(new_size[1], dtype=torch.float32, device=boxes.device)
               / torch.tensor(original_size[1], dtype=torch.float32, device=boxes.device))
    x1, y1, x2, y2 = boxes.unbind(1)
    return torch.stack((x1 * ratio_w, y1 * ratio_h, x2 * ratio_w, y2 * ratio_h), dim=1)


def resize_keypoints(keypoints: Tensor, original_size: tuple[int, int], new_size: tuple[int, int]) -> Tensor:
    """Scales ``[..., K, 3]`` keypoints' x and y (not their visibility) as :func:`resize_boxes` scales boxes."""
    ratio_h = (torch.tensor(new_size[0], dtype=torch.float32, device=keypoints.device)
               / torch.tensor(original_size[0], dtype=torch.float32, device=keypoints.device))
    ratio_w = (torch.tensor(new_size[1], dtype=torch.float32, device=keypoints.device)
               / torch.tensor(original_size[1], dtype=torch.float32, device=keypoints.device))
    return torch.stack((keypoints[..., 0] * ratio_w, keypoints[..., 1] * ratio_h, keypoints[..., 2]), dim=-1)


@torch.jit.unused
def traced_resize(image: Tensor, min_size: int, max_size: int) -> Tensor:
    """The inference resize while tracing for export: the output size ``floor(side * scale)`` is computed from traced
    sizes in integers, ``side * limit // limiting side``, so every runtime gets the size eager code gets (a runtime
    may run float64 as float32, as OpenVINO's CPU plugin does: 74 * (96 / 74) is then 95.99999, one pixel short).

    Eager code computes it in float64, which is exact but where ``side * limit`` is a multiple of the limiting side
    and the float64 rounding of the scale lands below it (a last-bit case; see docs/parity.md)."""
    sides = torch.stack([torch.as_tensor(side) for side in image.shape[-2:]]).to(torch.int64)
    short, long = sides.min(), sides.max()
    # scale = min(min_size / short, max_size / long); compared without dividing: min_size * long <= max_size * short
    by_short = min_size * long <= max_size * short
    limit = torch.where(by_short, torch.tensor(min_size), torch.tensor(max_size))
    limiting = torch.where(by_short, short, long)
    size = list(torch.div(sides * limit, limiting, rounding_mode="floor").unbind(0))
    return F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]


def resize_image_and_masks(image: Tensor, min_size: int, max_size: int, target: Optional[dict[str, Tensor]] = None,
                           fixed_size: Optional[tuple[int, int]] = None
                           ) -> tuple[Tensor, Optional[dict[str, Tensor]]]:
    """Resizes ``image [C, H, W]`` (bilinear) and ``target["masks"]`` (nearest); ``fixed_size`` is ``(w, h)``."""
    if torch.jit.is_tracing() and fixed_size is None and target is None:
        return traced_resize(image, min_size, max_size), target
    size: Optional[list[int]] = None
    scale: Optional[float] = None
    recompute: Optional[bool] = None
    if fixed_size is not None:
        size = [fixed_size[1], fixed_size[0]]
    else:
        h, w = image.shape[-2], image.shape[-1]
        scale = min(float(min_size) / float(min(h, w)), float(max_size) / float(max(h, w)))
        recompute = True
    image = F.interpolate(image[None], size=size, scale_factor=scale, mode="bilinear",
                          recompute_scale_factor=recompute, align_corners=False)[0]
    if target is not None and "masks" in target:
        masks = target["masks"][:, None].float()
        target["masks"] = F.interpolate(masks, size=size, scale_factor=scale,
                                        recompute_scale_factor=recompute)[:, 0].byte()
    return image, target


def channel_values(values: list[float], like: Tensor) -> Tensor:
    """``values`` as a tensor of ``like``'s dtype and device. Each number goes in as a scalar: scripted,
    ``torch.as_tensor(list)`` would round them through float32 first (and scripted outputs differ from eager)."""
    return torch.stack([torch.full((1,), v, dtype=like.dtype, device=like.device) for v in values])[:, 0]


class GeneralizedRCNNTransform(nn.Module):
    """Eager, scripted (``torch.jit.script``) and traced for export alike; while tracing, sizes stay traced values
    so that the exported graph takes any image size."""

    def __init__(self, min_size: Union[int, Sequence[int]], max_size: int, image_mean: Sequence[float],
                 image_std: Sequence[float], size_divisible: int = 32,
                 fixed_size: Optional[tuple[int, int]] = None, **kwargs) -> None:
        super().__init__()
        self.min_size: tuple[int, ...] = tuple(min_size) if isinstance(min_size, (list, tuple)) else (min_size,)
        self.max_size = max_size
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.size_divisible = size_divisible
        self.fixed_size = fixed_size
        self._skip_resize: bool = kwargs.pop("_skip_resize", False)
        if kwargs:
            raise TypeError(f"unexpected arguments for GeneralizedRCNNTransform: {sorted(kwargs)}")

    def normalize(self, image: Tensor) -> Tensor:
        if not image.is_floating_point():
            raise TypeError(f"Expected input images to be of floating type (in range [0, 1]), "
                            f"but found type {image.dtype} instead")
        mean = channel_values(self.image_mean, image)
        std = channel_values(self.image_std, image)
        return (image - mean[:, None, None]) / std[:, None, None]

    def torch_choice(self, options: list[int]) -> int:
        """Uniform choice drawn from torch's RNG (not Python's), so that seeding torch reproduces it."""
        return options[int(torch.empty(1).uniform_(0.0, float(len(options))).item())]

    def resize(self, image: Tensor, target: Optional[dict[str, Tensor]] = None
               ) -> tuple[Tensor, Optional[dict[str, Tensor]]]:
        h, w = image.shape[-2], image.shape[-1]
        if self.training:
            if self._skip_resize:
                return image, target
            size = self.torch_choice(list(self.min_size))
        else:
            size = self.min_size[-1]
        image, target = resize_image_and_masks(image, size, self.max_size, target, self.fixed_size)
        if target is not None:
            target["boxes"] = resize_boxes(target["boxes"], (h, w), (image.shape[-2], image.shape[-1]))
            if "keypoints" in target:
                target["keypoints"] = resize_keypoints(target["keypoints"], (h, w),
                                                       (image.shape[-2], image.shape[-1]))
        return image, target

    def batch_images(self, images: list[Tensor], size_divisible: int = 32) -> Tensor:
        """Zero-pads to the largest height and width, each rounded up to a multiple of ``size_divisible``."""
        if torch.jit.is_tracing():
            return self.traced_batch_images(images, size_divisible)
        channels, height, width = 0, 0, 0
        for img in images:
            channels, height, width = max(channels, img.shape[0]), max(height, img.shape[1]), max(width, img.shape[2])
        height = int(math.ceil(float(height) / size_divisible) * size_divisible)
        width = int(math.ceil(float(width) / size_divisible) * size_divisible)
        batch = images[0].new_zeros((len(images), channels, height, width))
        for i, img in enumerate(images):
            batch[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        return batch

    @torch.jit.unused
    def traced_batch_images(self, images: list[Tensor], size_divisible: int) -> Tensor:
        """:meth:`batch_images` while tracing for export: sizes stay traced values and padding is ``F.pad`` (the
        exporter has no in-place copy into a slice)."""
        sizes = torch.stack([torch.stack([torch.as_tensor(s) for s in img.shape]) for img in images])
        largest = sizes.max(dim=0).values
        padded_hw = torch.ceil(largest[1:].to(torch.float64) / size_divisible).to(torch.int64) * size_divisible
        target = [largest[0]] + list(padded_hw.unbind(0))
        padded = []
        for img in images:
            pad = [t - s for t, s in zip(target, img.shape)]
            padded.append(F.pad(img, [0, pad[2], 0, pad[1], 0, pad[0]]))
        return torch.stack(padded)

    def forward(self, images: list[Tensor], targets: Optional[list[dict[str, Tensor]]] = None
                ) -> tuple[ImageList, Optional[list[dict[str, Tensor]]]]:
        """Targets are shallow-copied: the caller's dicts are never modified."""
        copied: Optional[list[dict[str, Tensor]]] = None
        if targets is not None:
            copied = []
            for t in targets:
                copied.append({k: v for k, v in t.items()})
        resized: list[Tensor] = []
        for i, image in enumerate(images):
            if image.dim() != 3:
                raise ValueError(f"images is expected to be a list of 3d tensors of shape [C, H, W], "
                                 f"got {list(image.shape)} for image {i}")
            target = copied[i] if copied is not None else None
            image, target = self.resize(self.normalize(image), target)
            resized.append(image)
            if copied is not None and target is not None:
                copied[i] = target
        image_sizes: list[tuple[int, int]] = []
        for img in resized:
            image_sizes.append((img.shape[-2], img.shape[-1]))
        return ImageList(self.batch_images(resized, size_divisible=self.size_divisible), image_sizes), copied

    def postprocess(self, result: list[dict[str, Tensor]], image_shapes: list[tuple[int, int]],
                    original_image_sizes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        """Maps boxes (and keypoints) back to each original image and pastes masks into it (``[K, 1, H, W]``
        probabilities)."""
        if self.training:
            return result
        for prediction, resized_size, original_size in zip(result, image_shapes, original_image_sizes):
            prediction["boxes"] = resize_boxes(prediction["boxes"], resized_size, original_size)
            if "masks" in prediction:
                prediction["masks"] = paste_masks_in_image(prediction["masks"], prediction["boxes"], original_size)
            if "keypoints" in prediction:
                prediction["keypoints"] = resize_keypoints(prediction["keypoints"], resized_size, original_size)
        return result

    def __repr__(self) -> str:
        """torchvision's layout: the class name, then one indented line per step."""
        indent = "\n    "
        return (f"{type(self).__name__}({indent}Normalize(mean={self.image_mean}, std={self.image_std})"
                f"{indent}Resize(min_size={self.min_size}, max_size={self.max_size}, mode='bilinear')\n)")
