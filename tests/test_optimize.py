"""``maskrcnn.optimize`` (the explicit fast form) against the plain model it came from.

Float64 outputs, losses and gradients agree to 1e-10 (folding batch norm and fusing only reorder rounding); in
float32 the detections match one to one. This holds for the default model, for a frozen-batch-norm model as
pretrained users have it, and for a tweaked model (GELU backbone, GroupNorm mask head) whose non-standard parts the
step must leave alone. Hooks keep firing, and ``deoptimize`` gives the plain model back.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import maskrcnn
from maskrcnn.ops import fused_conv
from maskrcnn.ops.precision import fast_mode_dtype
from maskrcnn.optimized import optimized_modules
from maskrcnn.testing import CLASSIFIER_SCALE, match_detections, randomise_frozen_batch_norm

from tests.model_fixtures import (
    QUICK,
    SMALL,
    assert_same_detections,
    assert_same_training_step,
    model_pair,
    pretrained_like_pair,
    random_images,
    swap_relus_for_gelus,
    targets_for,
)

SIZES = [(200, 260), (240, 180)]
EXACT = dict(rtol=1e-10, atol=1e-10)


def tweaked_model(**kwargs) -> maskrcnn.MaskRCNN:
    """GELU activations in the backbone and a GroupNorm mask head: nothing the step knows. Frozen batch norm with
    trained-like statistics, as a fine-tuned backbone has it."""
    torch.manual_seed(0)
    backbone = maskrcnn.resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=3)
    randomise_frozen_batch_norm(backbone, torch.Generator().manual_seed(0))
    swap_relus_for_gelus(backbone.body)
    mask_head = maskrcnn.MaskRCNNHeads(256, (256,) * 4, 1, norm_layer=lambda c: nn.GroupNorm(32, c))
    # GELU features are smaller than ReLU's: the scores of random weights stay under 0.05, so the cut is lower
    model = maskrcnn.MaskRCNN(backbone, num_classes=91, mask_head=mask_head,
                              **{**SMALL, "box_score_thresh": 0.02, **kwargs})
    with torch.no_grad():  # scores spread as a trained model's (rounding then reorders no near-ties)
        model.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    return model


def plain_and_optimized(kind: str, dtype=torch.float64, **kwargs):
    if kind == "default":
        plain = model_pair(dtype=dtype, **kwargs)[1]
    elif kind == "frozen batch norm":
        plain = pretrained_like_pair(dtype=dtype, **kwargs)[1]
    else:
        plain = tweaked_model(**kwargs).to(dtype).eval()
    return plain, maskrcnn.optimize(copy.deepcopy(plain))


KINDS = ["default", "frozen batch norm", "GELU backbone + GroupNorm mask head"]


@pytest.mark.parametrize("kind", KINDS)
def test_float64_inference_equals_the_plain_model(kind):
    plain, fast = plain_and_optimized(kind, **QUICK)
    assert optimized_modules(fast) and not optimized_modules(plain)
    images = random_images(SIZES)
    with torch.no_grad():
        expected, got = plain(images), fast(images)
    assert_same_detections(got, expected, **EXACT, min_count=QUICK["box_detections_per_img"])


@pytest.mark.parametrize("kind", ["default", "frozen batch norm"])
def test_float64_training_losses_and_gradients_equal_the_plain_model(kind):
    plain, fast = plain_and_optimized(kind, **QUICK)
    images, targets = random_images(SIZES), targets_for(SIZES, empty_index=1)
    assert_same_training_step(fast, plain, images, targets, **EXACT)


@pytest.mark.parametrize("kind", ["frozen batch norm", "GELU backbone + GroupNorm mask head"])
def test_float32_detections_match_one_to_one(kind):
    # Spread scores (the frozen-BN model scales its classifier): with all-alike scores rounding would reorder them.
    plain, fast = plain_and_optimized(kind, torch.float32)
    images = random_images([(300, 200), (180, 330)], seed=3, dtype=torch.float32)
    with torch.no_grad():
        expected, got = plain(images), fast(images)
    for a, b in zip(got, expected):
        pairs = match_detections(a, b, iou_thresh=0.999)
        # only a near-tie at the detection limit may leave one detection of each side unmatched
        assert len(b["boxes"]) > 20 and len(pairs) >= len(b["boxes"]) - 1
        i, j = (torch.tensor(index) for index in zip(*pairs))
        torch.testing.assert_close(a["scores"][i], b["scores"][j], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(a["masks"][i], b["masks"][j], rtol=0, atol=1e-3)


def test_only_standard_unhooked_blocks_change_and_deoptimize_restores_them():
    model = tweaked_model().eval()
    keys, parameters = list(model.state_dict()), list(model.parameters())
    fired = []
    model.rpn.head.conv[0][0].register_forward_hook(lambda *args: fired.append(1))  # a conv the step would fuse
    maskrcnn.optimize(model)
    names = set(optimized_modules(model))
    assert not any(name.startswith("backbone.body.layer") for name in names)  # GELU blocks stay plain
    assert not any(name.startswith("roi_heads.mask_head") for name in names)  # GroupNorm stays plain
    assert "rpn.head.conv.0" not in names  # its convolution has a hook: fusing it would skip the hook
    assert {"backbone.fpn", "backbone.fpn.layer_blocks.0", "roi_heads.box_roi_pool"} <= names
    assert list(model.state_dict()) == keys and all(p is q for p, q in zip(model.parameters(), parameters))
    maskrcnn.deoptimize(model)
    assert not optimized_modules(model)
    with torch.no_grad():
        model(random_images([(160, 200)], dtype=torch.float32))
    assert fired


def test_a_hook_registered_or_a_forward_patched_after_optimize_takes_effect():
    model = maskrcnn.optimize(model_pair(dtype=torch.float32)[1])
    captured = {}
    model.backbone.body.layer1[0].conv1.register_forward_hook(lambda m, i, o: captured.setdefault("conv1", o))
    model.backbone.fpn.inner_blocks[0][0].register_forward_hook(lambda m, i, o: captured.setdefault("lateral", o))
    patched_calls = []

    def patched_relu(x):
        patched_calls.append(x.shape)
        return torch.relu(x)
    model.backbone.body.layer2[0].relu.forward = patched_relu
    with torch.no_grad():
        model(random_images([(160, 200)], dtype=torch.float32))
    assert captured["conv1"].shape[1] == 64 and captured["lateral"].shape[1] == 256 and len(patched_calls) == 3


def test_without_the_private_onednn_op_convolutions_run_unfused_after_one_warning(monkeypatch):
    def missing(*args, **kwargs):
        raise RuntimeError("No such operator mkldnn::_convolution_pointwise")
    monkeypatch.setattr(fused_conv, "_fused_cpu", missing)
    fused_conv.onednn_fusion_works.cache_clear()
    try:
        plain = pretrained_like_pair(dtype=torch.float32)[1]  # spread scores: no near-ties among the first ten
        fast = maskrcnn.optimize(copy.deepcopy(plain))
        images = random_images([(160, 200)], dtype=torch.float32)
        with pytest.warns(UserWarning, match="_convolution_pointwise is unusable"), torch.no_grad():
            got = fast(images)[0]
        with torch.no_grad():
            top = {k: v[:10] for k, v in plain(images)[0].items()}
        pairs = match_detections(got, top, iou_thresh=0.99)
        assert len(pairs) == 10
        ours, theirs = (list(index) for index in zip(*pairs))
        torch.testing.assert_close(got["scores"][ours], top["scores"][theirs], rtol=1e-4, atol=1e-5)
    finally:
        fused_conv.onednn_fusion_works.cache_clear()


@pytest.mark.skipif(fast_mode_dtype("cpu") is None,
                    reason="fast mode needs a CPU with native bfloat16 (AVX-512 BF16 or AMX); this one has neither")
def test_fast_mode_whole_model_stays_close_and_hands_float32_to_the_geometry():
    plain, fast = plain_and_optimized("frozen batch norm", torch.float32)
    images = random_images([(300, 200)], seed=3, dtype=torch.float32)
    with torch.no_grad():
        expected = plain(images)[0]
        with maskrcnn.fast_mode("cpu"):
            got = fast(images)[0]
    assert all(got[k].dtype == torch.float32 for k in ("boxes", "scores", "masks"))
    # bfloat16 keeps 8 significant bits: the best detections survive, boxes within a few pixels
    top = {k: v[:10] for k, v in expected.items()}
    pairs = match_detections(got, top, iou_thresh=0.9)
    assert len(pairs) >= 8
    fast.train()
    targets = targets_for([(300, 200)], dtype=torch.float32)
    with maskrcnn.fast_mode("cpu"):
        losses = fast(images, targets)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
