"""Weights files: torchvision checkpoints (current and older key names), ours, fine-tuning, clear errors."""
import copy
import re

import pytest
import torch
import torchvision
from torchvision.models.detection import mask_rcnn as tv_mask_rcnn
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone as tv_resnet_fpn_backbone

import maskrcnn

from tests.model_fixtures import random_images


@pytest.fixture(scope="module")
def pretrained_reference():
    """torchvision's Mask R-CNN built as its pretrained path builds it (frozen batch norm, 3 trainable stages)."""
    torch.manual_seed(0)
    backbone = tv_resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                      norm_layer=torchvision.ops.FrozenBatchNorm2d, trainable_layers=3)
    model = tv_mask_rcnn.MaskRCNN(backbone, num_classes=91, min_size=224, max_size=320, box_score_thresh=0.0)
    # Random running statistics, so that frozen batch norm does real work.
    g = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torchvision.ops.FrozenBatchNorm2d):
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g) * 0.1)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) + 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def checkpoint_file(pretrained_reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "maskrcnn_random.pth"
    torch.save(pretrained_reference.state_dict(), path)
    return path


def old_key_name(key: str) -> str:
    """The names torchvision's first detection release used (converted on load by version hooks)."""
    key = re.sub(r"^rpn\.head\.conv\.0\.0\.", "rpn.head.conv.", key)
    key = re.sub(r"^backbone\.fpn\.(inner|layer)_blocks\.(\d)\.0\.", r"backbone.fpn.\1_blocks.\2.", key)
    return re.sub(r"^roi_heads\.mask_head\.(\d)\.0\.", lambda m: f"roi_heads.mask_head.mask_fcn{int(m.group(1)) + 1}.",
                  key)


def test_torchvision_checkpoint_loads_and_gives_equal_outputs(pretrained_reference, checkpoint_file):
    # 40 detections, not 100: in float64 the mask head on all of them would be most of the test's time
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights=checkpoint_file, min_size=224, max_size=320, box_score_thresh=0.0,
                                          box_detections_per_img=40).eval()
    assert isinstance(ours.backbone.body.bn1, maskrcnn.FrozenBatchNorm2d)
    assert sum(p.numel() for p in ours.parameters()) == 44_401_393
    trainable = {n.split(".")[0] for n, p in ours.backbone.body.named_parameters() if p.requires_grad}
    assert trainable == {"layer2", "layer3", "layer4"}
    # float64: random weights score all boxes alike, and float32 rounding (batch norm folded into the convolutions
    # here, not there) would reorder those near-ties
    images = random_images([(200, 260), (230, 190)], dtype=torch.float64)
    with torch.no_grad():
        reference = copy.deepcopy(pretrained_reference).double()
        reference.roi_heads.detections_per_img = 40
        a, b = ours.double()(images), reference(images)
    for x, y in zip(a, b):
        assert len(x["boxes"]) == 40
        torch.testing.assert_close(x["boxes"], y["boxes"], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(x["scores"], y["scores"], rtol=1e-6, atol=1e-6)
        assert torch.equal(x["labels"], y["labels"])


def test_older_key_names_load(pretrained_reference, tmp_path):
    state = pretrained_reference.state_dict()
    old = {old_key_name(k): v for k, v in state.items()}  # a plain dict: no version metadata, as old files
    assert "rpn.head.conv.weight" in old and "roi_heads.mask_head.mask_fcn1.weight" in old
    assert "backbone.fpn.inner_blocks.0.weight" in old
    torch.save(old, tmp_path / "old.pth")
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights=tmp_path / "old.pth")
    for name, value in ours.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_our_training_checkpoint_format_loads(pretrained_reference, tmp_path):
    torch.save({"model": pretrained_reference.state_dict(), "epoch": 3}, tmp_path / "ours.pth")
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights=tmp_path / "ours.pth")
    assert torch.equal(ours.roi_heads.box_predictor.cls_score.weight,
                       pretrained_reference.roi_heads.box_predictor.cls_score.weight)


def test_fine_tuning_to_k_classes_keeps_every_other_weight(pretrained_reference, checkpoint_file, capsys):
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights=checkpoint_file, num_classes=5)
    message = capsys.readouterr().out
    assert "start fresh" in message and "roi_heads.box_predictor.cls_score.weight" in message
    assert ours.roi_heads.box_predictor.cls_score.out_features == 5
    assert ours.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 5
    reference = pretrained_reference.state_dict()
    for name, value in ours.state_dict().items():
        if name.startswith(maskrcnn.checkpoint.DETECTOR_CLASS_SPECIFIC):
            assert value.shape != reference[name].shape, name  # the fresh, 5-class layers
        else:
            assert torch.equal(value, reference[name]), name


def test_coco_v1_file_sets_frozen_batch_norm_eps_to_zero(pretrained_reference, tmp_path):
    path = tmp_path / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
    torch.save(pretrained_reference.state_dict(), path)
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights=path)
    eps = {m.eps for m in ours.modules() if isinstance(m, maskrcnn.FrozenBatchNorm2d)}
    assert eps == {0.0}


def test_backbone_weights_file(tmp_path):
    torch.manual_seed(0)
    resnet = torchvision.models.resnet50(weights=None)
    torch.save(resnet.state_dict(), tmp_path / "resnet50.pth")
    ours = maskrcnn.maskrcnn_resnet50_fpn(weights_backbone=tmp_path / "resnet50.pth")
    assert torch.equal(ours.backbone.body.layer3[2].conv2.weight, resnet.layer3[2].conv2.weight)
    assert torch.equal(ours.backbone.body.bn1.running_var, resnet.bn1.running_var)
    assert sum(p.numel() for p in ours.parameters()) == 44_401_393


def test_bad_weights_files_raise_clear_errors(tmp_path):
    with pytest.raises(maskrcnn.CheckpointError, match="weights file not found: .*missing.pth"):
        maskrcnn.maskrcnn_resnet50_fpn(weights=tmp_path / "missing.pth")
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(maskrcnn.CheckpointError, match="notes.pth: not a readable PyTorch checkpoint"):
        maskrcnn.maskrcnn_resnet50_fpn(weights=tmp_path / "notes.pth")
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(maskrcnn.CheckpointError, match="resnet18.pth does not fit the model .*missing keys: backbone"):
        maskrcnn.maskrcnn_resnet50_fpn(weights=tmp_path / "resnet18.pth", num_classes=91)
    with pytest.raises(maskrcnn.CheckpointError, match=r"size mismatch for layer1\.0\.conv1\.weight"):
        maskrcnn.resnet50(weights=tmp_path / "resnet18.pth")
