"""Shared builders for the model parity tests: torchvision's model with random weights, ours loaded from it."""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.detection import maskrcnn_resnet50_fpn as tv_maskrcnn_resnet50_fpn

import maskrcnn
from maskrcnn import testing
from maskrcnn.export import agreement

# Small images keep the suite fast on 2 CPU cores; 200-256 px still exercises every pyramid level.
SMALL = dict(min_size=200, max_size=256)
#: Quicker still, for tests that run many float64 passes (float64 convolutions have no oneDNN kernel): smaller
#: images, fewer proposals, sampled RoIs and detections.
QUICK = dict(min_size=128, max_size=160, rpn_pre_nms_top_n_train=300, rpn_post_nms_top_n_train=150,
             rpn_pre_nms_top_n_test=200, rpn_post_nms_top_n_test=100, box_batch_size_per_image=32,
             box_detections_per_img=10)


def model_pair(seed: int = 0, dtype=torch.float64, **kwargs):
    """torchvision's Mask R-CNN (random weights, seeded) and ours with its state_dict, both in eval mode."""
    torch.manual_seed(seed)
    reference = tv_maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, **{**SMALL, **kwargs})
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights_backbone=None, **{**SMALL, **kwargs})
    ours.load_state_dict(reference.state_dict())
    return reference.to(dtype).eval(), ours.to(dtype).eval()


def pretrained_like_pair(seed: int = 0, dtype=torch.float64, **kwargs):
    """As a user of a trained model has it (:func:`maskrcnn.testing.pretrained_like_pair`), both in eval mode."""
    reference, ours = testing.pretrained_like_pair(seed, **{**SMALL, **kwargs})
    return reference.to(dtype).eval(), ours.to(dtype).eval()


def random_images(sizes, seed: int = 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(3, h, w, generator=g, dtype=torch.float64).to(dtype) for h, w in sizes]


def photo_like_images(sizes, seed: int = 1, dtype=torch.float64):
    """Smooth random images (blurred blobs, upsampled from 1/16 size): closer to a photo's statistics than noise."""
    g = torch.Generator().manual_seed(seed)
    images = []
    for h, w in sizes:
        low = torch.rand(1, 3, max(2, h // 16), max(2, w // 16), generator=g, dtype=torch.float64)
        images.append(torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0]
                      .clamp(0, 1).to(dtype))
    return images


def targets_for(sizes, dtype=torch.float64, empty_index=None):
    """Two rectangles per image, with masks that fill their boxes except a hole; ``empty_index`` has no object."""
    targets = []
    for i, (h, w) in enumerate(sizes):
        if i == empty_index:
            targets.append({"boxes": torch.zeros(0, 4, dtype=dtype), "labels": torch.zeros(0, dtype=torch.int64),
                            "masks": torch.zeros(0, h, w, dtype=torch.uint8)})
            continue
        boxes = torch.tensor([[0.1 * w, 0.1 * h, 0.6 * w, 0.5 * h], [0.4 * w, 0.45 * h, 0.95 * w, 0.9 * h]],
                             dtype=dtype).round()
        masks = torch.zeros(2, h, w, dtype=torch.uint8)
        for m, (x1, y1, x2, y2) in zip(masks, boxes.long().tolist()):
            m[y1:y2, x1:x2] = 1
            m[(y1 + y2) // 2:y2, x1:(x1 + x2) // 2] = 0
        targets.append({"boxes": boxes, "labels": torch.tensor([3, 7]), "masks": masks})
    return targets


def swap_relus_for_gelus(module: nn.Module) -> int:
    """Replaces every ``nn.ReLU`` child below ``module`` by ``nn.GELU``; returns how many."""
    swapped = 0
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, nn.GELU())
                swapped += 1
    return swapped


def assert_same_training_step(ours: nn.Module, reference: nn.Module, images, targets, rtol: float, atol: float,
                              seed: int = 5) -> dict:
    """Both models in train mode, the same sampling seed: equal losses, then equal gradients of every parameter.
    Returns the reference's losses."""
    ours.train()
    reference.train()
    torch.manual_seed(seed)
    expected = reference(images, targets)
    torch.manual_seed(seed)
    got = ours(images, targets)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=rtol, atol=atol, msg=name)
    sum(expected.values()).backward()
    sum(got.values()).backward()
    for (name, p), q in zip(reference.named_parameters(), ours.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=rtol, atol=atol, msg=name)
    return expected


def spread_score_checkpoint(path, masks: bool = True, num_classes: int = 5, keypoints: int = 0) -> nn.Module:
    """A small untrained shapes-like model (ResNet-18-FPN at 96 px, narrow heads) with its class scores spread, so
    that it detects something, saved as the tools' checkpoint; returns the model. ``keypoints``: a Keypoint R-CNN
    of that many keypoints (a head of two 32-wide convolutions) instead."""
    from maskrcnn.engine import ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(num_classes=num_classes, backbone="resnet18", masks=masks and not keypoints, min_size=96,
                         max_size=144, fpn_channels=64, box_representation_size=128, mask_head_channels=64,
                         keypoints=keypoints > 0, num_keypoints=keypoints or 17, keypoint_head_layers=(32, 32))
    model = maskrcnn.resnet_fpn_detector(**config.builder_kwargs())
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.weight.mul_(20)
    names = ["__background__", "square", "circle", "triangle", "star"][:num_classes]
    torch.save({"model": model.state_dict(), "model_config": config.to_dict(),
                "categories": {"ids": list(range(num_classes)), "names": names}}, path)
    return model


def assert_same_detections(ours: list[dict], reference: list[dict], rtol: float, atol: float,
                           min_count: int = 1) -> None:
    """Image by image: the same output keys and labels, boxes, scores and masks (where present) close; each
    reference image has at least ``min_count`` detections, so that the comparison means something."""
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference):
        assert sorted(a) == sorted(b)
        assert len(b["boxes"]) >= min_count, "weights should produce detections for a meaningful comparison"
        assert torch.equal(a["labels"], b["labels"])
        for key in ("boxes", "scores", "masks"):
            if key in b:
                assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
                torch.testing.assert_close(a[key], b[key], rtol=rtol, atol=atol, msg=key)


def assert_reproduces(model, detector, images, min_fraction: float = 0.99) -> list:
    """The exported detector reproduces >= min_fraction of eager's detections, masks within 1e-3 on average."""
    found = []
    for image in images:
        with torch.no_grad():
            eager = model([image])[0]
        exported = detector([image])[0]
        assert exported.keys() == eager.keys()
        for key, value in exported.items():
            assert value.dtype == eager[key].dtype and value.shape[1:] == eager[key].shape[1:], key
        result = agreement(eager, exported)
        assert result.fraction >= min_fraction, result.summary()
        assert result.exported <= result.reference + max(1, result.reference // 100), result.summary()
        assert result.mask_mean_abs_diff < 1e-3, result.summary()
        if result.keypoint_max_distance is not None:
            assert result.keypoint_max_distance < 1e-3, result.summary()
        found.append(result.reference)
    return found
