"""Mask R-CNN v2 (torchvision's ``maskrcnn_resnet50_fpn_v2``) against torchvision's, on the same weights.

The same shape of tests as v1's: construction (keys, parameters, seeded initialisation), each new stage, the whole
model in eval (float64) and in training (losses and every gradient, with an image without objects), checkpoint
files of both versions, and the fast form.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torchvision.models.detection import maskrcnn_resnet50_fpn_v2 as tv_maskrcnn_v2
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead as TvFastRCNNConvFCHead

import maskrcnn
from maskrcnn.checkpoint import CheckpointError
from maskrcnn.testing import CLASSIFIER_SCALE, randomise_batch_norm

from tests.model_fixtures import (
    QUICK,
    assert_same_detections,
    assert_same_training_step,
    photo_like_images,
    targets_for,
)

SIZES = [(100, 124), (116, 92)]
#: v2 is 2.5x v1's arithmetic and float64 convolutions are slow: smaller still than QUICK.
V2_QUICK = {**QUICK, "min_size": 96, "max_size": 128, "rpn_pre_nms_top_n_train": 200, "rpn_post_nms_top_n_train": 100,
            "rpn_pre_nms_top_n_test": 100, "rpn_post_nms_top_n_test": 50, "box_batch_size_per_image": 32,
            "box_detections_per_img": 10}


def v2_pair(dtype=torch.float64, **kwargs):
    """torchvision's v2 (random weights, trained-like batch norm statistics, spread class scores) and ours loaded
    from its state_dict, in eval mode."""
    kwargs = {**V2_QUICK, **kwargs}
    torch.manual_seed(0)
    reference = tv_maskrcnn_v2(weights=None, weights_backbone=None, **kwargs)
    randomise_batch_norm(reference, torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    ours = maskrcnn.maskrcnn_resnet50_fpn_v2(weights_backbone=None, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return reference.to(dtype).eval(), ours.to(dtype).eval()


def test_keys_parameters_and_seeded_initialisation_equal_torchvisions():
    torch.manual_seed(0)
    reference = tv_maskrcnn_v2(weights=None, weights_backbone=None)
    torch.manual_seed(0)
    ours = maskrcnn.maskrcnn_resnet50_fpn_v2(weights_backbone=None)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())
    for (name, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name
    assert isinstance(ours.backbone.body.bn1, nn.BatchNorm2d)  # v2 keeps plain batch norm in the backbone


def test_conv_fc_box_head_equals_torchvisions():
    torch.manual_seed(0)
    reference = TvFastRCNNConvFCHead((8, 7, 7), [16, 16], [32], norm_layer=nn.BatchNorm2d).double()
    ours = maskrcnn.FastRCNNConvFCHead((8, 7, 7), [16, 16], [32], norm_layer=nn.BatchNorm2d).double()
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 8, 7, 7, dtype=torch.float64)
    for training in (True, False):
        reference.train(training)
        ours.train(training)
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-12)


def test_eval_float64_equals_torchvision():
    reference, ours = v2_pair()
    images = photo_like_images(SIZES)
    with torch.no_grad():
        expected, got = reference(images), ours(images)
    assert_same_detections(got, expected, rtol=1e-6, atol=1e-6, min_count=V2_QUICK["box_detections_per_img"])


def test_train_losses_and_gradients_float64_equal_torchvision_with_an_empty_image():
    reference, ours = v2_pair()
    images, targets = photo_like_images(SIZES), targets_for(SIZES, empty_index=1)
    losses = assert_same_training_step(ours, reference, images, targets, rtol=0, atol=1e-6)
    assert sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_mask", "loss_objectness", "loss_rpn_box_reg"]
    torch.testing.assert_close(ours.backbone.body.bn1.running_mean, reference.backbone.body.bn1.running_mean)


def test_the_fast_form_equals_the_plain_v2_model():
    _, plain = v2_pair()
    fast = maskrcnn.optimize(copy.deepcopy(plain))
    names = maskrcnn.optimized.optimized_modules(fast)
    assert "roi_heads.box_head.0" in names and "backbone.fpn.inner_blocks.0" in names  # BN folded there too
    images = photo_like_images(SIZES)
    with torch.no_grad():
        expected, got = plain(images), fast(images)
    for a, b in zip(got, expected):
        assert torch.equal(a["labels"], b["labels"])
        for key in ("boxes", "scores", "masks"):
            torch.testing.assert_close(a[key], b[key], rtol=1e-10, atol=1e-10, msg=key)


def test_torchvisions_v2_file_loads_fine_tunes_and_the_wrong_version_is_named(tmp_path):
    reference, _ = v2_pair(dtype=torch.float32)
    path = tmp_path / "maskrcnn_resnet50_fpn_v2_coco.pth"
    torch.save(reference.state_dict(), path)
    loaded = maskrcnn.maskrcnn_resnet50_fpn_v2(weights=str(path), **V2_QUICK).eval()
    images = photo_like_images(SIZES, dtype=torch.float32)
    with torch.no_grad():
        for a, b in zip(loaded(images), reference(images)):
            torch.testing.assert_close(a["boxes"], b["boxes"], rtol=1e-4, atol=1e-3)
    tuned = maskrcnn.maskrcnn_resnet50_fpn_v2(weights=str(path), num_classes=4, **V2_QUICK)
    assert tuned.roi_heads.box_predictor.cls_score.out_features == 4
    torch.testing.assert_close(tuned.roi_heads.box_head[0][0].weight, reference.roi_heads.box_head[0][0].weight)
    # from pretrained weights 3 stages train; the frozen ones keep their parameters, yet (plain batch norm, as in
    # torchvision's v2) their running statistics still move in training
    assert not tuned.backbone.body.conv1.weight.requires_grad and tuned.backbone.body.layer2[0].conv1.weight.requires_grad
    before = tuned.backbone.body.bn1.running_mean.clone()
    tuned.train()
    targets = [dict(t, labels=torch.tensor([1, 3])) for t in targets_for(SIZES[:1], dtype=torch.float32)]
    tuned(photo_like_images(SIZES[:1], dtype=torch.float32), targets)
    assert not torch.equal(tuned.backbone.body.bn1.running_mean, before)
    with pytest.raises(CheckpointError, match="holds a v2 detector.*maskrcnn_resnet50_fpn_v2"):
        maskrcnn.maskrcnn_resnet50_fpn(weights=str(path))
    v1 = tmp_path / "v1.pth"
    torch.save(maskrcnn.maskrcnn_resnet50_fpn(weights_backbone=None).state_dict(), v1)
    with pytest.raises(CheckpointError, match="holds a v1 detector.*maskrcnn_resnet50_fpn "):
        maskrcnn.maskrcnn_resnet50_fpn_v2(weights=str(v1))


def test_the_built_in_set_trains_one_epoch_with_v2_and_the_tools_recognise_v2(tiny_shapes, tmp_path):
    from maskrcnn.engine import ModelConfig, build_model, load_detector

    from tests.tool_runner import TINY_MODEL, tool

    done = tool("train.py", "--data-root", tiny_shapes, "--model", "v2", "--epochs", 1, "--output", tmp_path / "run",
                *TINY_MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.pth", weights_only=True)
    assert checkpoint["model_config"]["version"] == "v2" and "roi_heads.box_head.0.0.weight" in checkpoint["model"]
    evaluated = tool("eval.py", "--weights", tmp_path / "run" / "checkpoints" / "last.pth", "--data-root",
                     tiny_shapes, "--workers", 0, "--out", tmp_path / "eval")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    # torchvision's own v2 file is recognised by its box head
    torch.save(tv_maskrcnn_v2(weights=None, weights_backbone=None, num_classes=5).state_dict(), tmp_path / "tv.pth")
    model, categories = load_detector(tmp_path / "tv.pth")
    assert isinstance(model.roi_heads.box_head, maskrcnn.FastRCNNConvFCHead) and categories.num_classes == 5
    # LSJ and copy-paste size the training images: the model does not resize them again (torchvision's _skip_resize)
    assert build_model(ModelConfig(num_classes=3, backbone="resnet18", skip_resize=True)).transform._skip_resize


def test_copy_paste_preview_and_sync_bn_conversion(tiny_shapes, tmp_path):
    from tests.tool_runner import tool

    done = tool("visualize_data.py", "--data-root", tiny_shapes, "--augment", "copypaste", "--num", 2, "--out",
                tmp_path / "preview.png")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "preview.png").exists()
    model = maskrcnn.maskrcnn_resnet50_fpn_v2(weights_backbone=None, **V2_QUICK)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(model))
    assert list(synced.state_dict()) == list(model.state_dict())  # checkpoints stay plain v2 files
    assert isinstance(synced.roi_heads.box_head[0][1], nn.SyncBatchNorm)
