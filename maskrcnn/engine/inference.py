"""Running a detector over a data loader, and evaluating it on a COCO-format dataset (across ranks if launched so)."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..ops.precision import fast_mode as fast_mode_context
from . import distributed
from .coco_evaluation import evaluate_results, prediction_to_results


def has_masks(model: nn.Module) -> bool:
    """Whether the detector predicts masks (Mask R-CNN) or boxes only (Faster R-CNN); an exported model's runtime
    says so in its file's metadata."""
    metadata = getattr(model, "metadata", None)
    if isinstance(metadata, dict) and "masks" in metadata:
        return bool(metadata["masks"])
    if hasattr(model, "output_names"):  # an exported file without our metadata (torchvision's export)
        return "masks" in model.output_names
    roi_heads = getattr(model, "roi_heads", None)
    return bool(roi_heads is not None and hasattr(roi_heads, "has_mask") and roi_heads.has_mask())


def has_keypoints(model: nn.Module) -> bool:
    """Whether the detector predicts keypoints (Keypoint R-CNN); an exported model's runtime says so by its
    outputs."""
    if hasattr(model, "output_names"):
        return "keypoints" in model.output_names
    roi_heads = getattr(model, "roi_heads", None)
    return bool(roi_heads is not None and hasattr(roi_heads, "has_keypoint") and roi_heads.has_keypoint())


def evaluated_types(model: nn.Module) -> tuple[str, ...]:
    """The COCOeval IoU types of the model's outputs: bbox, and segm for masks, keypoints for keypoints."""
    return ("bbox",) + (("segm",) if has_masks(model) else ()) + (("keypoints",) if has_keypoints(model) else ())


def primary_ap(metrics: dict[str, Any]) -> tuple[str, float]:
    """``(iou type, AP)`` by which runs are compared: mask AP where there are masks, keypoint AP where there are
    keypoints, else box AP."""
    iou_type = next(t for t in ("segm", "keypoints", "bbox") if t in metrics)
    return iou_type, metrics[iou_type]["AP"]


@torch.inference_mode()
def collect_results(model: nn.Module, loader: DataLoader, device: torch.device, progress: bool = True,
                    fast_mode: bool = False, keep_outputs: int = 0) -> tuple[list[dict], list[tuple]]:
    """COCO result records of every image in ``loader`` (its dataset's category ids); plus the first
    ``keep_outputs`` (image, output) pairs. ``model``: a detector module, or any callable that takes a list of
    image tensors and returns the eval outputs (an exported model's runtime)."""
    if isinstance(model, nn.Module):
        model.eval()
    category_ids = loader.dataset.categories.ids
    results: list[dict] = []
    kept: list[tuple] = []
    bar = tqdm(loader, desc="evaluate", disable=not (progress and distributed.is_main_process()), leave=False,
               dynamic_ncols=True)
    for images, targets in bar:
        with fast_mode_context(device, fast_mode):
            outputs = model([image.to(device, non_blocking=True) for image in images])
        for image, target, output in zip(images, targets, outputs):
            results.extend(prediction_to_results(target["image_id"], output, category_ids))
            if len(kept) < keep_outputs:
                kept.append((image, {k: v.cpu() for k, v in output.items()}))
    return results, kept


def validation_losses(model: nn.Module, loader: DataLoader, device: torch.device, fast_mode: bool = False,
                      seed: int = 0) -> dict[str, float]:
    """The training losses on a validation loader, averaged over its images (and ranks), plus their sum ``"loss"``.

    The detector computes losses only in training mode, so it runs in training mode with every batch norm layer in
    eval mode (running statistics used, not updated) and without gradients: the model is left as it was. Anchor and
    RoI sampling draw from torch's generator, forked and seeded, so the caller's random state is untouched too (a
    resumed run still repeats exactly).
    """
    was_training = model.training
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    sums: dict[str, float] = {}
    count = 0
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            for images, targets in loader:
                images = [image.to(device) for image in images]
                targets = [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
                           for t in targets]
                with fast_mode_context(device, fast_mode):
                    losses = model(images, targets)
                for name, value in losses.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(images)
                count += len(images)
    finally:
        model.train(was_training)
    gathered = distributed.all_gather_objects((sums, count))
    total = sum(n for _, n in gathered)
    averages = {name: sum(part.get(name, 0.0) for part, _ in gathered) / max(total, 1) for name in sums}
    averages["loss"] = sum(averages.values())
    return averages


def evaluate_on_coco(model: nn.Module, loader: DataLoader, device: torch.device, per_class: bool = False,
                     fast_mode: bool = False, keep_outputs: int = 0, backend: str = "pycocotools"
                     ) -> tuple[Optional[dict[str, Any]], str, list, list]:
    """Evaluates on the loader's dataset (a CocoInstanceDataset, or this rank's shard of it): bbox, and segm if the
    model predicts masks, keypoints (OKS) if it predicts keypoints.

    Returns ``(metrics, table, results, kept outputs)`` on rank 0; other ranks get ``(None, "", [], [])`` after
    sending their results to rank 0.
    """
    results, kept = collect_results(model, loader, device, fast_mode=fast_mode, keep_outputs=keep_outputs)
    gathered = distributed.all_gather_objects(results)
    if not distributed.is_main_process():
        return None, "", [], []
    results = [record for part in gathered for record in part]
    dataset = loader.dataset
    image_ids = getattr(dataset, "ids", None)
    iou_types = evaluated_types(model)
    metrics, table = evaluate_results(dataset.coco, results, iou_types, image_ids=image_ids, per_class=per_class,
                                      backend=backend)
    return metrics, table, results, kept
